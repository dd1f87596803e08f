import test from 'ava';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { newSigningKey } from '../../src/domain/keys.js';
import { bumpChangeCounters } from '../../src/store/change-counters.js';
import { insertSigningKey } from '../../src/store/keys.js';
import { registerRp } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

async function publishedKids(): Promise<string[]> {
  const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
  return jwks.keys.map((key) => key.kid);
}

test('a signing key added in the database reaches the running server without a restart', async (t) => {
  const api = 'https://keys.example';
  const rp = await registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [], resources: [api], scope: 'keys:read' });
  const before = await publishedKids();

  // What another node (or a key rotation) does: a new key row and the change counter, in one transaction.
  const key = await newSigningKey(server.deps.sealer, 'ES256');
  const { kid } = key;
  await server.deps.db.knex.transaction(async (trx) => {
    await insertSigningKey(trx, key);
    await bumpChangeCounters(trx, 'keys');
  });

  const deadline = Date.now() + 10_000;
  while (!(await publishedKids()).includes(kid) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const after = await publishedKids();
  t.true(after.includes(kid), 'the new key is published');
  t.true(before.every((old) => after.includes(old)), 'the keys already published stay');

  const tokens = await oidc.clientCredentialsGrant(rp.config, { resource: api, scope: 'keys:read' });
  t.is(decodeProtectedHeader(tokens.access_token).kid, kid, 'the newest ES256 key signs');
  const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), { issuer: server.issuer, audience: api });
  t.is(payload.scope, 'keys:read');
});
