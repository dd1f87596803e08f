import { createHash, randomBytes, randomUUID } from 'node:crypto';
import test from 'ava';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import * as oidc from 'openid-client';
import { createClient, type CreateClientInput } from '../../src/domain/clients.js';
import { createResource } from '../../src/domain/resources.js';
import { testActor } from '../helpers/actor.js';
import { Browser } from '../helpers/browser.js';
import { createTestUser, discover, postWithBasic, registerRp, signIn, redeem } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startExampleApi, type ExampleApi } from './support.js';

let server: TestServer;
let jwtApi: ExampleApi;
let opaqueApi: ExampleApi;

test.before(async () => {
  server = await startTestServer();
  opaqueApi = await startExampleApi(server, 'opaque');
  // One introspection client for both, so Latchkey answers it about either API's tokens.
  jwtApi = await startExampleApi(server, 'jwt', opaqueApi.introspectionClient);
});

test.after.always(async () => {
  await Promise.all([jwtApi?.server.close(), opaqueApi?.server.close()]);
  await server?.dispose();
});

type Caller = { clientId: string; clientSecret: string };

async function caller(input: Partial<CreateClientInput> = {}): Promise<Caller> {
  const { client, clientSecret } = await createClient(server.deps, testActor, {
    name: 'Worker',
    grantTypes: ['client_credentials'],
    resources: [jwtApi.identifier, opaqueApi.identifier],
    scope: 'hello:read hello:write',
    ...input,
  });
  return { clientId: client.clientId, clientSecret: clientSecret! };
}

async function token(client: Caller, fields: Record<string, string>): Promise<string> {
  const response = await postWithBasic(`${server.issuer}/token`, client, { grant_type: 'client_credentials', ...fields });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`no access token: ${JSON.stringify(body)}`);
  return body.access_token;
}

async function hello(api: ExampleApi, accessToken?: string) {
  const response = await fetch(`${api.server.url}/api/hello`, accessToken ? { headers: { authorization: `Bearer ${accessToken}` } } : {});
  return { status: response.status, challenge: response.headers.get('www-authenticate'), body: (await response.json()) as Record<string, unknown> };
}

function assertInvalidToken(t: import('ava').ExecutionContext, answer: Awaited<ReturnType<typeof hello>>, description?: string) {
  t.is(answer.status, 401);
  t.regex(answer.challenge ?? '', /^Bearer .*error="invalid_token"/);
  t.is(answer.body.error, 'invalid_token');
  if (description) t.is(answer.body.error_description, description);
}

test('a valid JWT access token is accepted, checked against the JWKS, with its subject, client and scope', async (t) => {
  const worker = await caller();
  const accessToken = await token(worker, { resource: jwtApi.identifier, scope: 'hello:read' });
  t.is(decodeProtectedHeader(accessToken).typ, 'at+jwt');
  const answer = await hello(jwtApi, accessToken);
  t.is(answer.status, 200);
  t.like(answer.body, { sub: worker.clientId, client_id: worker.clientId, scope: 'hello:read', token_format: 'jwt' });
});

test('a valid opaque access token is accepted through introspection', async (t) => {
  const worker = await caller();
  const accessToken = await token(worker, { resource: opaqueApi.identifier, scope: 'hello:read' });
  t.notRegex(accessToken, /\./);
  const answer = await hello(opaqueApi, accessToken);
  t.is(answer.status, 200);
  t.like(answer.body, { client_id: worker.clientId, scope: 'hello:read', token_format: 'opaque' });
});

test("a user's access token says who the user is; the token for Latchkey's userinfo is refused", async (t) => {
  const rp = await registerRp(server, { resources: [jwtApi.identifier], scope: 'openid hello:read' });
  const user = await createTestUser(server);
  const { callback, request } = await signIn(new Browser(), rp, user, { scope: 'openid hello:read', resource: jwtApi.identifier });
  const tokens = await oidc.authorizationCodeGrant(
    rp.config,
    callback,
    { pkceCodeVerifier: request.codeVerifier, expectedState: request.state, expectedNonce: request.nonce },
    { resource: jwtApi.identifier },
  );
  const answer = await hello(jwtApi, tokens.access_token);
  t.is(answer.status, 200);
  t.like(answer.body, { sub: user.id, client_id: rp.clientId, scope: 'hello:read' });

  const { callback: again, request: second } = await signIn(new Browser(), rp, user, { scope: 'openid hello:read', resource: jwtApi.identifier });
  const forUserinfo = await redeem(rp, again, second);
  assertInvalidToken(t, await hello(opaqueApi, forUserinfo.access_token), 'the access token is not active for this API');
});

test('a tampered JWT is refused', async (t) => {
  const worker = await caller();
  const [header, payload, signature] = (await token(worker, { resource: jwtApi.identifier, scope: 'hello:read' })).split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
  const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
  assertInvalidToken(t, await hello(jwtApi, `${header}.${forged}.${signature}`), 'the access token is not valid');
});

test('an expired JWT and an expired opaque token are refused', async (t) => {
  // Seconds to spare for the check before expiry, on a loaded machine too.
  const worker = await caller({ accessTokenTtl: 3 });
  const [jwt, opaque] = await Promise.all([
    token(worker, { resource: jwtApi.identifier, scope: 'hello:read' }),
    token(worker, { resource: opaqueApi.identifier, scope: 'hello:read' }),
  ]);
  // Introspection says only "not active" once it has expired: first see that it was good.
  t.is((await hello(opaqueApi, opaque)).status, 200);
  const expiry = decodeJwt(jwt).exp! * 1000;
  await new Promise((resolve) => setTimeout(resolve, expiry - Date.now() + 1000));
  assertInvalidToken(t, await hello(jwtApi, jwt), 'the access token has expired');
  assertInvalidToken(t, await hello(opaqueApi, opaque), 'the access token is not active for this API');
});

test('a token meant for another API is refused, JWT or opaque', async (t) => {
  const worker = await caller();
  const [jwt, opaque] = await Promise.all([
    token(worker, { resource: jwtApi.identifier, scope: 'hello:read' }),
    token(worker, { resource: opaqueApi.identifier, scope: 'hello:read' }),
  ]);
  assertInvalidToken(t, await hello(opaqueApi, jwt), 'the access token is meant for another API');
  // Latchkey answers the shared introspection client about it: the audience decides.
  assertInvalidToken(t, await hello(jwtApi, opaque), 'the access token is not active for this API');
});

test('an opaque token for an API whose introspection client this is not, for no API, or issued to the introspection client itself is refused', async (t) => {
  const elsewhere = `https://elsewhere-${randomBytes(4).toString('hex')}.example/`;
  await createResource(server.deps, testActor, { identifier: elsewhere, scopes: ['hello:read'], accessTokenFormat: 'opaque' });
  const worker = await caller({ resources: [elsewhere], scope: 'hello:read' });
  const tokens = await Promise.all([
    token(worker, { resource: elsewhere, scope: 'hello:read' }),
    token(worker, {}),
    // Latchkey lets a client introspect its own tokens, so only the audience tells this one apart.
    token(opaqueApi.introspectionClient, {}),
  ]);
  for (const accessToken of tokens) assertInvalidToken(t, await hello(opaqueApi, accessToken), 'the access token is not active for this API');
});

test('unknown tokens are refused', async (t) => {
  assertInvalidToken(t, await hello(opaqueApi, randomBytes(32).toString('base64url')), 'the access token is not active for this API');
  const madeUp = ['{"alg":"ES256","typ":"at+jwt"}', '{"sub":"x"}', 'signature'].map((part) => Buffer.from(part).toString('base64url')).join('.');
  assertInvalidToken(t, await hello(jwtApi, madeUp), 'the access token is not valid');
});

test('a request without a token gets the Bearer and DPoP challenges without an error code', async (t) => {
  for (const authorization of [undefined, 'Basic dXNlcjpwYXNz']) {
    const response = await fetch(`${jwtApi.server.url}/api/hello`, authorization ? { headers: { authorization } } : {});
    t.is(response.status, 401);
    // Two WWW-Authenticate headers, which fetch joins with ", ".
    t.is(response.headers.get('www-authenticate'), 'Bearer realm="example-api", DPoP realm="example-api", algs="ES256 EdDSA"');
    await response.body?.cancel();
  }
});

test('a valid token without the scope hello:read gets 403 insufficient_scope', async (t) => {
  const worker = await caller();
  for (const api of [jwtApi, opaqueApi]) {
    const answer = await hello(api, await token(worker, { resource: api.identifier, scope: 'hello:write' }));
    t.is(answer.status, 403);
    t.is(answer.challenge, 'Bearer realm="example-api", error="insufficient_scope", scope="hello:read"');
    t.is(answer.body.error, 'insufficient_scope');
  }
});

// DPoP (RFC 9449): tokens bound to the caller's key, each request with a proof signed by it.

type Keys = { privateKey: CryptoKey; publicKey: CryptoKey };

/** A client_credentials token bound to `keys`, asked for with openid-client's DPoP support. */
async function dpopToken(api: ExampleApi, keys: oidc.CryptoKeyPair, input: Partial<CreateClientInput> = {}) {
  const worker = await caller(input);
  const config = await discover(server, worker.clientId, worker.clientSecret);
  const dpop = oidc.getDPoPHandle(config, keys);
  const tokens = await oidc.clientCredentialsGrant(config, { resource: api.identifier, scope: 'hello:read' }, { DPoP: dpop });
  return { worker, config, dpop, accessToken: tokens.access_token, tokenType: tokens.token_type };
}

/** A DPoP proof written by hand, to get each part wrong on purpose (RFC 9449 §4.2). */
async function proof(keys: Keys, claims: { htm?: string; htu?: string; ath?: string; iat?: number; jti?: string }, alg = 'ES256'): Promise<string> {
  const { iat, ...rest } = claims;
  return new SignJWT({ jti: randomUUID(), ...rest })
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
    .setIssuedAt(iat)
    .sign(keys.privateKey);
}

function athOf(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

async function helloWith(api: ExampleApi, headers: Record<string, string>, method = 'GET') {
  const response = await fetch(`${api.server.url}/api/hello`, { method, headers });
  return { status: response.status, challenge: response.headers.get('www-authenticate'), body: (await response.json()) as Record<string, unknown> };
}

function assertDPoPError(t: import('ava').ExecutionContext, answer: Awaited<ReturnType<typeof helloWith>>, error: 'invalid_token' | 'invalid_dpop_proof', description?: RegExp) {
  t.is(answer.status, 401);
  t.regex(answer.challenge ?? '', new RegExp(`^DPoP realm="example-api", algs="ES256 EdDSA", error="${error}", error_description="`));
  t.is(answer.body.error, error);
  if (description) t.regex(String(answer.body.error_description), description);
}

for (const format of ['jwt', 'opaque'] as const) {
  test(`a DPoP-bound ${format} access token with a good proof is accepted; the proof works once`, async (t) => {
    const api = format === 'jwt' ? jwtApi : opaqueApi;
    const keys = await oidc.randomDPoPKeyPair('ES256');
    const { worker, config, dpop, accessToken, tokenType } = await dpopToken(api, keys);
    t.is(tokenType.toLowerCase(), 'dpop');
    if (format === 'jwt') t.deepEqual(decodeJwt(accessToken).cnf, { jkt: await calculateJwkThumbprint(await exportJWK(keys.publicKey)) });

    // As a client sends it: openid-client makes the proof.
    const url = new URL(`${api.server.url}/api/hello`);
    const response = await oidc.fetchProtectedResource(config, accessToken, url, 'GET', null, undefined, { DPoP: dpop });
    t.is(response.status, 200);
    t.like((await response.json()) as object, { sub: worker.clientId, client_id: worker.clientId, scope: 'hello:read', token_format: format, token_type: 'DPoP' });

    // By hand; the scheme's case does not matter, and the htu may carry a query (it is compared without).
    const once = await proof(keys, { htm: 'GET', htu: `${url.href}?ignored=1`, ath: athOf(accessToken) });
    const good = await helloWith(api, { authorization: `dpop ${accessToken}`, dpop: once });
    t.is(good.status, 200);
    t.is(good.body.token_type, 'DPoP');
    assertDPoPError(t, await helloWith(api, { authorization: `DPoP ${accessToken}`, dpop: once }), 'invalid_dpop_proof', /used before/);
  });
}

test('a DPoP-bound token is refused with a proof from another key, for another method, URL or token, too old, or without a proof', async (t) => {
  const keys = await oidc.randomDPoPKeyPair('ES256');
  const { accessToken } = await dpopToken(jwtApi, keys);
  const htu = `${jwtApi.server.url}/api/hello`;
  const ath = athOf(accessToken);
  const call = async (dpopProof?: string) => helloWith(jwtApi, { authorization: `DPoP ${accessToken}`, ...(dpopProof ? { dpop: dpopProof } : {}) });

  // A good proof, but by a key the token is not bound to: the token is not this caller's.
  const other = await generateKeyPair('ES256');
  assertDPoPError(t, await call(await proof(other, { htm: 'GET', htu, ath })), 'invalid_token', /bound to another key/);
  const edwards = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  assertDPoPError(t, await call(await proof(edwards, { htm: 'GET', htu, ath }, 'EdDSA')), 'invalid_token', /bound to another key/);

  assertDPoPError(t, await call(await proof(keys, { htm: 'POST', htu, ath })), 'invalid_dpop_proof', /another method/);
  assertDPoPError(t, await call(await proof(keys, { htm: 'GET', htu: `${server.issuer}/api/hello`, ath })), 'invalid_dpop_proof', /another URL/);
  assertDPoPError(t, await call(await proof(keys, { htm: 'GET', htu, ath: athOf('another token') })), 'invalid_dpop_proof', /another access token/);
  assertDPoPError(t, await call(await proof(keys, { htm: 'GET', htu })), 'invalid_dpop_proof', /another access token/);
  const now = Math.floor(Date.now() / 1000);
  assertDPoPError(t, await call(await proof(keys, { htm: 'GET', htu, ath, iat: now - 120 })), 'invalid_dpop_proof', /iat/);
  assertDPoPError(t, await call(await proof(keys, { htm: 'GET', htu, ath, iat: now + 120 })), 'invalid_dpop_proof', /iat/);
  assertDPoPError(t, await call(), 'invalid_dpop_proof', /needs a DPoP proof/);

  // A proof whose signature is not by the key in its header, one with the wrong typ, one signed with HS256.
  const [header, payload] = (await proof(keys, { htm: 'GET', htu, ath })).split('.');
  const [, , otherSignature] = (await proof(other, { htm: 'GET', htu, ath })).split('.');
  assertDPoPError(t, await call(`${header}.${payload}.${otherSignature}`), 'invalid_dpop_proof', /not signed by the key/);
  const wrongTyp = await new SignJWT({ jti: randomUUID(), htm: 'GET', htu, ath })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', jwk: await exportJWK(keys.publicKey) })
    .setIssuedAt()
    .sign(keys.privateKey);
  assertDPoPError(t, await call(wrongTyp), 'invalid_dpop_proof', /typ dpop\+jwt/);
  const symmetric = await new SignJWT({ jti: randomUUID(), htm: 'GET', htu, ath }).setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt' }).setIssuedAt().sign(randomBytes(32));
  assertDPoPError(t, await call(symmetric), 'invalid_dpop_proof', /signed with ES256 or EdDSA/);
  // Two proofs in two DPoP headers.
  const two = new Headers({ authorization: `DPoP ${accessToken}` });
  two.append('dpop', await proof(keys, { htm: 'GET', htu, ath }));
  two.append('dpop', await proof(keys, { htm: 'GET', htu, ath }));
  const response = await fetch(htu, { headers: two });
  t.is(response.status, 401);
  t.regex(response.headers.get('www-authenticate') ?? '', /error="invalid_dpop_proof", error_description="the DPoP header must hold exactly one proof/);
  await response.body?.cancel();

  // And after all that, the right proof still works.
  t.is((await call(await proof(keys, { htm: 'GET', htu, ath }))).status, 200);
});

test('a DPoP-bound token sent as Bearer is refused, and so is a Bearer token sent as DPoP', async (t) => {
  const keys = await oidc.randomDPoPKeyPair('ES256');
  for (const api of [jwtApi, opaqueApi]) {
    const { accessToken } = await dpopToken(api, keys);
    // RFC 9449 §7.1: even with a good proof alongside, the scheme must be DPoP.
    const asBearer = await helloWith(api, { authorization: `Bearer ${accessToken}`, dpop: await proof(keys, { htm: 'GET', htu: `${api.server.url}/api/hello`, ath: athOf(accessToken) }) });
    assertDPoPError(t, asBearer, 'invalid_token', /DPoP-bound: send it as Authorization: DPoP/);

    const worker = await caller();
    const bearer = await token(worker, { resource: api.identifier, scope: 'hello:read' });
    const ownKeys = await generateKeyPair('ES256');
    const asDPoP = await helloWith(api, { authorization: `DPoP ${bearer}`, dpop: await proof(ownKeys, { htm: 'GET', htu: `${api.server.url}/api/hello`, ath: athOf(bearer) }) });
    assertDPoPError(t, asDPoP, 'invalid_token', /not DPoP-bound/);
    // As Bearer it is still fine.
    t.like((await hello(api, bearer)).body, { token_type: 'Bearer' });
  }
});

test('a DPoP-bound token without the scope hello:read gets 403 insufficient_scope in a DPoP challenge', async (t) => {
  const keys = await oidc.randomDPoPKeyPair('ES256');
  const worker = await caller();
  const config = await discover(server, worker.clientId, worker.clientSecret);
  const tokens = await oidc.clientCredentialsGrant(config, { resource: jwtApi.identifier, scope: 'hello:write' }, { DPoP: oidc.getDPoPHandle(config, keys) });
  const htu = `${jwtApi.server.url}/api/hello`;
  const answer = await helloWith(jwtApi, { authorization: `DPoP ${tokens.access_token}`, dpop: await proof(keys, { htm: 'GET', htu, ath: athOf(tokens.access_token) }) });
  t.is(answer.status, 403);
  t.is(answer.challenge, 'DPoP realm="example-api", algs="ES256 EdDSA", error="insufficient_scope", scope="hello:read"');
});
