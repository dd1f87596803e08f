import { randomUUID } from 'node:crypto';
import test from 'ava';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { listAuditEvents } from '../../src/domain/audit.js';
import { createClient, rotateClientSecret } from '../../src/domain/clients.js';
import { sha256 } from '../../src/util/digest.js';
import { testActor } from '../helpers/actor.js';
import { advanceClock, resetClock } from '../helpers/clock.js';
import { postWithBasic, registerRp, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let tokenEndpoint: string;

test.before(async () => {
  server = await startTestServer();
  tokenEndpoint = `${server.issuer}/token`;
});

test.after.always(async () => {
  resetClock();
  await server?.dispose();
});

type Json = Record<string, unknown>;

function machineClient(): Promise<RelyingParty> {
  return registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [] });
}

async function clientCredentials(clientId: string, clientSecret: string | undefined): Promise<{ status: number; body: Json }> {
  const response = await postWithBasic(tokenEndpoint, { clientId, clientSecret }, { grant_type: 'client_credentials' });
  return { status: response.status, body: (await response.json()) as Json };
}

async function clientCredentialsPost(fields: Record<string, string>): Promise<{ status: number; body: Json }> {
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...fields }).toString(),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

// Serial tests run first, so the moved clock never overlaps the other tests.
test.serial('a rotated secret keeps working during its grace window and stops after it', async (t) => {
  const client = await machineClient();
  const { clientSecret: newSecret } = await rotateClientSecret(server.deps, testActor, client.clientId, { graceSeconds: 120 });
  try {
    t.is((await clientCredentials(client.clientId, client.clientSecret)).status, 200, 'old secret within the window');
    t.is((await clientCredentials(client.clientId, newSecret)).status, 200, 'new secret');
    advanceClock(121);
    const old = await clientCredentials(client.clientId, client.clientSecret);
    t.is(old.status, 401, 'old secret after the window');
    t.is(old.body.error, 'invalid_client');
    t.is((await clientCredentials(client.clientId, newSecret)).status, 200, 'new secret after the window');
  } finally {
    resetClock();
  }
});

test('the client row holds no part of the secret, only its digest', async (t) => {
  const client = await machineClient();
  const secret = client.clientSecret!;
  const row = JSON.stringify(await server.deps.db.knex('clients').where({ client_id: client.clientId }).first());
  t.true(row.includes(sha256(secret)));
  for (let start = 0; start + 8 <= secret.length; start += 1) {
    t.false(row.includes(secret.slice(start, start + 8)), `holds ${secret.slice(start, start + 8)}`);
  }
});

test('the real secret authenticates at the token endpoint; the stored hash presented as the secret does not', async (t) => {
  const client = await machineClient();
  const hash = sha256(client.clientSecret!);
  t.is((await clientCredentials(client.clientId, client.clientSecret)).status, 200, 'basic with the secret');
  t.is((await clientCredentialsPost({ client_id: client.clientId, client_secret: client.clientSecret! })).status, 200, 'post with the secret');

  const basic = await clientCredentials(client.clientId, hash);
  t.is(basic.status, 401, 'basic with the hash');
  t.is(basic.body.error, 'invalid_client');
  const post = await clientCredentialsPost({ client_id: client.clientId, client_secret: hash });
  t.is(post.status, 401, 'post with the hash');
  t.is(post.body.error, 'invalid_client');
});

test('without a grace window a rotated secret stops at once', async (t) => {
  const client = await machineClient();
  const { clientSecret: newSecret } = await rotateClientSecret(server.deps, testActor, client.clientId);
  t.is((await clientCredentials(client.clientId, client.clientSecret)).status, 401);
  t.is((await clientCredentials(client.clientId, newSecret)).status, 200);
});

test('discovery offers no method or algorithm that needs the plaintext secret (client_secret_jwt, HS*)', async (t) => {
  const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Json;
  const methods = metadata.token_endpoint_auth_methods_supported as string[];
  t.deepEqual(methods, ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']);
  t.deepEqual(metadata.token_endpoint_auth_signing_alg_values_supported, ['ES256', 'RS256', 'PS256', 'Ed25519', 'EdDSA']);
  t.deepEqual(metadata.id_token_signing_alg_values_supported, ['ES256', 'RS256']);
  // Signed userinfo, introspection and request objects are off; should they be turned on, their lists are checked too.
  for (const [key, values] of Object.entries(metadata).filter(([key]) => key.endsWith('_alg_values_supported'))) {
    for (const alg of values as string[]) t.false(alg.startsWith('HS'), `${key} lists ${alg}`);
  }
  for (const [key, values] of Object.entries(metadata).filter(([key]) => key.endsWith('_auth_methods_supported'))) {
    t.false((values as string[]).includes('client_secret_jwt'), `${key} lists client_secret_jwt`);
  }
});

async function keyClient(): Promise<{ clientId: string; privateKey: CryptoKey; kid: string }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const kid = randomUUID();
  const { client } = await createClient(server.deps, testActor, {
    name: 'Key-based worker',
    grantTypes: ['client_credentials'],
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
  });
  return { clientId: client.clientId, privateKey, kid };
}

function assertion(clientId: string, key: CryptoKey, kid: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(server.issuer)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(key);
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

test('a private_key_jwt client gets client_credentials tokens with an ES256 client assertion', async (t) => {
  const { clientId, privateKey, kid } = await keyClient();
  const answer = await clientCredentialsPost({
    client_id: clientId,
    client_assertion_type: JWT_BEARER,
    client_assertion: await assertion(clientId, privateKey, kid),
  });
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.is(typeof answer.body.access_token, 'string');
});

test('a private_key_jwt client assertion signed with another key is refused', async (t) => {
  const { clientId, kid } = await keyClient();
  const { privateKey: stranger } = await generateKeyPair('ES256');
  const answer = await clientCredentialsPost({
    client_id: clientId,
    client_assertion_type: JWT_BEARER,
    client_assertion: await assertion(clientId, stranger, kid),
  });
  t.is(answer.status, 401);
  t.is(answer.body.error, 'invalid_client');
});

test('a token revocation is recorded in the audit log, naming the token by its digest', async (t) => {
  const client = await machineClient();
  const issued = await clientCredentials(client.clientId, client.clientSecret);
  const accessToken = issued.body.access_token as string;
  const response = await postWithBasic(`${server.issuer}/token/revocation`, client, { token: accessToken });
  t.is(response.status, 200);

  // The provider reports the revocation as an event; the audit row follows it.
  let events = await listAuditEvents(server.deps, { type: 'token.revoked', actorId: client.clientId });
  for (let attempt = 0; attempt < 50 && events.items.length === 0; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    events = await listAuditEvents(server.deps, { type: 'token.revoked', actorId: client.clientId });
  }
  t.is(events.items.length, 1);
  const [event] = events.items;
  t.is(event?.actorType, 'client');
  t.is(event?.subjectType, 'token');
  t.is(event?.subjectId, sha256(accessToken));
  t.false(JSON.stringify(event).includes(accessToken));
});
