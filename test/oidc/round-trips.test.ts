import test from 'ava';
import * as oidc from 'openid-client';
import { createResource } from '../../src/domain/resources.js';
import { testActor } from '../helpers/actor.js';
import { Browser } from '../helpers/browser.js';
import { createTestUser, postWithBasic, redeem, registerRp, signIn, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// What every token request costs in round trips to the database: the figures the benchmark
// (docs/benchmarks.md) measures on the wire, pinned here so a change that adds a query to a
// hot path fails a test rather than only a benchmark.

let server: TestServer;
const API = 'https://api.round-trips.example';

test.before(async () => {
  // Background jobs poll rarely here, so every query counted is one a request made.
  server = await startTestServer({ LATCHKEY_CACHE_POLL_INTERVAL: '1h', LATCHKEY_CLEANUP_INTERVAL: '1h' });
  await createResource(server.deps, testActor, { identifier: API, scopes: ['read'], accessTokenFormat: 'jwt' });
});

test.after.always(async () => {
  await server?.dispose();
});

/** Database statements sent while `work` runs (requests one at a time, so none overlap). */
async function queriesDuring(work: () => Promise<unknown>): Promise<number> {
  let count = 0;
  const onQuery = () => {
    count += 1;
  };
  server.deps.db.knex.on('query', onQuery);
  try {
    await work();
  } finally {
    server.deps.db.knex.off('query', onQuery);
  }
  return count;
}

async function ok(response: Promise<Response>): Promise<Record<string, unknown>> {
  const answered = await response;
  if (answered.status !== 200) throw new Error(`answered ${answered.status}: ${await answered.text()}`);
  return (await answered.json()) as Record<string, unknown>;
}

const machine = () => registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [], resources: [API], scope: 'read' });

test.serial('client_credentials: none for a JWT access token, one (its row) for an opaque one; the client comes from memory', async (t) => {
  const client = await machine();
  const token = `${server.issuer}/token`;
  // The first requests load the client and the API into this node's cache.
  await ok(postWithBasic(token, client, { grant_type: 'client_credentials', resource: API, scope: 'read' }));
  t.is(await queriesDuring(() => ok(postWithBasic(token, client, { grant_type: 'client_credentials', resource: API, scope: 'read' }))), 0);
  t.is(await queriesDuring(() => ok(postWithBasic(token, client, { grant_type: 'client_credentials' }))), 1);
});

test.serial('introspection reads the token once, whichever kind it turns out to be', async (t) => {
  const client = await machine();
  const { access_token: accessToken } = await ok(postWithBasic(`${server.issuer}/token`, client, { grant_type: 'client_credentials' }));
  const introspect = () => ok(postWithBasic(`${server.issuer}/token/introspection`, client, { token: String(accessToken) }));
  t.true((await introspect()).active === true);
  t.is(await queriesDuring(introspect), 1);
});

test.serial('a refresh reads the token with its grant, then the account, and writes three rows; userinfo reads the token and the account', async (t) => {
  const rp: RelyingParty = await registerRp(server);
  const user = await createTestUser(server);
  const { callback, request } = await signIn(new Browser(), rp, user, { scope: 'openid offline_access', prompt: 'consent' });
  const tokens = await redeem(rp, callback, request);
  let refreshed: oidc.TokenEndpointResponse | undefined;
  // Token and grant in one read, the account, the old token consumed, the new refresh and access tokens.
  t.is(await queriesDuring(async () => (refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!))), 5);
  t.is(await queriesDuring(() => oidc.fetchUserInfo(rp.config, refreshed!.access_token, user.id)), 2);
});
