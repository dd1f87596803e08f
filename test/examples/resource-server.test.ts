import { randomBytes } from 'node:crypto';
import test from 'ava';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { createClient, type CreateClientInput } from '../../src/domain/clients.js';
import { createResource } from '../../src/domain/resources.js';
import { testActor } from '../helpers/actor.js';
import { Browser } from '../helpers/browser.js';
import { createTestUser, postWithBasic, registerRp, signIn, redeem } from '../helpers/rp.js';
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

test('a request without a token gets the Bearer challenge without an error code', async (t) => {
  for (const authorization of [undefined, 'Basic dXNlcjpwYXNz']) {
    const response = await fetch(`${jwtApi.server.url}/api/hello`, authorization ? { headers: { authorization } } : {});
    t.is(response.status, 401);
    t.is(response.headers.get('www-authenticate'), 'Bearer realm="example-api"');
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
