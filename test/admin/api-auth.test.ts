import test from 'ava';
import * as oidc from 'openid-client';
import { ADMIN_SCOPE } from '../../src/domain/admin-access.js';
import { updateUser } from '../../src/domain/users.js';
import { testActor } from '../helpers/actor.js';
import { adminApi, adminClientToken, adminFetch, adminUserToken } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { createTestUser, registerRp, signIn, type RelyingParty, type TestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let admin: { rp: RelyingParty; token: string };

test.before(async () => {
  server = await startTestServer();
  admin = await adminClientToken(server);
});

test.after.always(async () => {
  await server?.dispose();
});

/**
 * An admin user signed in at a first-party admin-access client, as the console does. The
 * resource is named at the token endpoint too: the provider does not carry it over from the
 * authorization request (useGrantedResource is off), and without it the token is for userinfo.
 */
async function signedInAdmin(options: { nameResourceAtTokenEndpoint?: boolean } = {}): Promise<{ rp: RelyingParty; user: TestUser; token: string }> {
  const user = await createTestUser(server);
  await updateUser(server.deps, testActor, user.id, { isAdmin: true });
  const rp = await registerRp(server, { name: 'Admin app', adminAccess: true, firstParty: true });
  const { callback, request } = await signIn(new Browser(), rp, user, { scope: `openid ${ADMIN_SCOPE}`, resource: adminApi(server) });
  const tokens = await oidc.authorizationCodeGrant(
    rp.config,
    callback,
    { pkceCodeVerifier: request.codeVerifier, expectedState: request.state, expectedNonce: request.nonce },
    options.nameResourceAtTokenEndpoint === false ? {} : { resource: adminApi(server) },
  );
  return { rp, user, token: tokens.access_token };
}

const USERS = '/users?limit=1';

function challengeOf(response: { headers: Headers }): string {
  return response.headers.get('www-authenticate') ?? '';
}

test('without a token: 401 with a bare Bearer challenge (RFC 6750 §3.1)', async (t) => {
  const response = await adminFetch(server, undefined, USERS);
  t.is(response.status, 401);
  t.is(response.body!.code, 'admin.unauthenticated');
  t.is(response.body!.error, 'invalid_token');
  t.is(challengeOf(response), 'Bearer realm="latchkey-admin"');
  t.is(response.headers.get('cache-control'), 'no-store');
});

test('with a made-up token or another scheme: 401 invalid_token with a description', async (t) => {
  for (const authorization of ['Bearer not-a-real-token', 'Basic YWRtaW46YWRtaW4=', 'Bearer']) {
    const response = await fetch(`${server.issuer}/admin/api/v1${USERS}`, { headers: { authorization } });
    t.is(response.status, 401, authorization);
    t.regex(challengeOf(response), /^Bearer realm="latchkey-admin", error="invalid_token", error_description="[^"]+"$/);
    t.is(((await response.json()) as { code: string }).code, 'admin.unauthenticated');
  }
});

test('the admin client token and an admin user token work', async (t) => {
  t.is((await adminFetch(server, admin.token, USERS)).status, 200);
  const { token } = await signedInAdmin();
  t.is((await adminFetch(server, token, USERS)).status, 200);
});

test('a token for the admin API without the admin scope: 403 insufficient_scope', async (t) => {
  const grant = await oidc.clientCredentialsGrant(admin.rp.config, { resource: adminApi(server) });
  const response = await adminFetch(server, grant.access_token, USERS);
  t.is(response.status, 403);
  t.is(response.body!.code, 'admin.forbidden');
  t.is(response.body!.error, 'insufficient_scope');
  t.regex(challengeOf(response), /^Bearer realm="latchkey-admin", error="insufficient_scope", error_description="[^"]+", scope="latchkey:admin"$/);
});

test('a token meant for something else (userinfo) is not an admin token', async (t) => {
  const { token } = await signedInAdmin({ nameResourceAtTokenEndpoint: false });
  const response = await adminFetch(server, token, USERS);
  t.is(response.status, 401);
  t.regex(challengeOf(response), /error="invalid_token"/);
});

test('a user who is not an admin is refused the admin scope', async (t) => {
  await t.throwsAsync(adminUserToken(server, { admin: false }), { message: /authorization response from the server is an error/ });
});

test('a client without admin access cannot get an admin token', async (t) => {
  const plain = await registerRp(server, { name: 'Plain service', grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [] });
  await t.throwsAsync(oidc.clientCredentialsGrant(plain.config, { scope: ADMIN_SCOPE, resource: adminApi(server) }));
});

test("a client's token stops working on the next request once its admin access is taken away", async (t) => {
  const script = await adminClientToken(server);
  t.is((await adminFetch(server, script.token, USERS)).status, 200);
  const changed = await adminFetch(server, admin.token, `/clients/${script.rp.clientId}`, { method: 'PATCH', body: { admin_access: false } });
  t.is(changed.status, 200);
  const refused = await adminFetch(server, script.token, USERS);
  t.is(refused.status, 403);
  t.regex(challengeOf(refused), /error="insufficient_scope"/);
});

test("a demoted admin's token stops working on the next request", async (t) => {
  const { user, token } = await signedInAdmin();
  t.is((await adminFetch(server, token, USERS)).status, 200);
  const demoted = await adminFetch(server, token, `/users/${user.id}`, { method: 'PATCH', body: { is_admin: false } });
  t.is(demoted.status, 200);
  t.is(demoted.body!.is_admin, false);
  const refused = await adminFetch(server, token, USERS);
  t.is(refused.status, 403);
  t.is(refused.body!.code, 'admin.forbidden');

  const events = await adminFetch(server, admin.token, `/audit-events?type=admin.access_denied&actor_id=${user.id}`);
  t.is((events.body!.items as unknown[]).length, 1);
});

test("a disabled admin's token stops working", async (t) => {
  const { user, token } = await signedInAdmin();
  t.is((await adminFetch(server, admin.token, `/users/${user.id}/disable`, { method: 'POST' })).status, 200);
  t.is((await adminFetch(server, token, USERS)).status, 401);
});

test('a revoked token stops working', async (t) => {
  const script = await adminClientToken(server);
  t.is((await adminFetch(server, script.token, USERS)).status, 200);
  await oidc.tokenRevocation(script.rp.config, script.token);
  const refused = await adminFetch(server, script.token, USERS);
  t.is(refused.status, 401);
  t.regex(challengeOf(refused), /error="invalid_token"/);
});

test("a user's grants are listed, and revoking one ends the tokens issued under it", async (t) => {
  const { user, token } = await signedInAdmin();
  t.is((await adminFetch(server, token, USERS)).status, 200);

  const grants = await adminFetch(server, admin.token, `/users/${user.id}/grants`);
  t.is(grants.status, 200);
  t.is(grants.body!.next_cursor, null);
  const items = grants.body!.items as Array<Record<string, unknown>>;
  t.is(items.length, 1);
  t.is(items[0]!.user_id, user.id);
  t.true((items[0]!.scope as string).split(' ').includes('openid'));
  const grantId = items[0]!.grant_id as string;

  t.is((await adminFetch(server, admin.token, `/grants/${grantId}`, { method: 'DELETE' })).status, 204);
  t.deepEqual((await adminFetch(server, admin.token, `/users/${user.id}/grants`)).body!.items, []);
  t.is((await adminFetch(server, token, USERS)).status, 401);
  t.is((await adminFetch(server, admin.token, `/grants/${grantId}`, { method: 'DELETE' })).status, 404);
  t.is((await adminFetch(server, admin.token, '/users/00000000-0000-4000-8000-000000000000/grants')).status, 404);
});

test('the admin acting is recorded with its IP', async (t) => {
  const { user, token } = await signedInAdmin();
  const created = await adminFetch(server, token, '/resources', { method: 'POST', body: { identifier: 'https://audited.example/api', scope: 'read' } });
  t.is(created.status, 201);
  const events = await adminFetch(server, admin.token, `/audit-events?type=resource.created&subject_id=${encodeURIComponent('https://audited.example/api')}`);
  const items = events.body!.items as Array<{ actor: { type: string; id: string }; ip: string }>;
  t.deepEqual(items[0]?.actor, { type: 'user', id: user.id });
  t.regex(items[0]?.ip ?? '', /127\.0\.0\.1/);
});
