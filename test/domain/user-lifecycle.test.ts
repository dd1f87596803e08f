import test, { type ExecutionContext } from 'ava';
import * as oidc from 'openid-client';
import { listAuditEvents } from '../../src/domain/audit.js';
import { listUserGrants, revokeGrant } from '../../src/domain/grants.js';
import { deleteUser, disableUser, enableUser, setUserPassword } from '../../src/domain/users.js';
import { testActor } from '../helpers/actor.js';
import { Browser } from '../helpers/browser.js';
import { authorizationRequest, createTestUser, go, isLoginPage, redeem, registerRp, signIn, type RelyingParty, type TestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const OFFLINE = { scope: 'openid offline_access', prompt: 'consent' };

let server: TestServer;
let rp: RelyingParty;

test.before(async () => {
  server = await startTestServer();
  rp = await registerRp(server);
});
test.after.always(() => server?.dispose());

/** A signed-in user: a browser with a provider session, and a refresh token. */
async function signedIn(): Promise<{ user: TestUser; browser: Browser; refreshToken: string; accessToken: string }> {
  const user = await createTestUser(server);
  const browser = new Browser();
  const { callback, request } = await signIn(browser, rp, user, OFFLINE);
  const tokens = await redeem(rp, callback, request);
  return { user, browser, refreshToken: tokens.refresh_token!, accessToken: tokens.access_token };
}

async function refreshFails(t: ExecutionContext, refreshToken: string) {
  const error = await t.throwsAsync(oidc.refreshTokenGrant(rp.config, refreshToken), { instanceOf: oidc.ResponseBodyError });
  t.is(error?.error, 'invalid_grant');
}

async function sessionEnded(t: ExecutionContext, browser: Browser) {
  const step = await go(browser, rp, (await authorizationRequest(rp)).url);
  t.true(isLoginPage(step), 'the browser must sign in again');
}

async function introspectionActive(accessToken: string): Promise<boolean> {
  return (await oidc.tokenIntrospection(rp.config, accessToken)).active;
}

test('disabling a user ends their sessions and revokes their grants, refresh and access tokens; enabling does not bring them back', async (t) => {
  const { browser, user, refreshToken, accessToken } = await signedIn();
  await disableUser(server.deps, testActor, user.id);
  await refreshFails(t, refreshToken);
  t.false(await introspectionActive(accessToken));
  await sessionEnded(t, browser);
  await enableUser(server.deps, testActor, user.id);
  await refreshFails(t, refreshToken);
  t.deepEqual(await listUserGrants(server.deps, user.id), []);
});

test('deleting a user ends their sessions and revokes everything they held', async (t) => {
  const { browser, user, refreshToken } = await signedIn();
  await deleteUser(server.deps, testActor, user.id);
  await refreshFails(t, refreshToken);
  await sessionEnded(t, browser);
  t.is(await server.deps.db.knex('oidc_payloads').where({ account_id: user.id }).first(), undefined);
});

test('setting a password ends sessions and refresh tokens, and the new password signs in', async (t) => {
  const { browser, user, refreshToken } = await signedIn();
  await setUserPassword(server.deps, testActor, user.id, { password: 'a brand new passphrase' });
  await refreshFails(t, refreshToken);
  await sessionEnded(t, browser);
  await t.notThrowsAsync(signIn(new Browser(), rp, { email: user.email, password: 'a brand new passphrase' }));
});

test('revoking a grant revokes its tokens and the application must ask for consent again', async (t) => {
  const { user, refreshToken, accessToken } = await signedIn();
  const [grant] = await listUserGrants(server.deps, user.id);
  t.truthy(grant);
  t.is(grant!.clientId, rp.clientId);
  t.deepEqual(grant!.scope.split(' ').sort(), ['offline_access', 'openid']);
  await revokeGrant(server.deps, testActor, grant!.grantId);
  await refreshFails(t, refreshToken);
  t.false(await introspectionActive(accessToken));
  t.deepEqual(await listUserGrants(server.deps, user.id), []);
  const events = await listAuditEvents(server.deps, { type: 'grant.revoked', subjectId: grant!.grantId });
  t.is(events.items.length, 1);
  t.deepEqual(events.items[0]!.details, { user_id: user.id, client_id: rp.clientId });
});

test('sign-ins and failed sign-ins are audited with the address typed, never the password', async (t) => {
  const user = await createTestUser(server);
  await t.throwsAsync(signIn(new Browser(), rp, { email: user.email, password: 'not-the-password' }));
  await signIn(new Browser(), rp, user);
  const failed = await listAuditEvents(server.deps, { type: 'user.sign_in_failed' });
  const failure = failed.items.find((event) => event.details.email === user.email);
  t.truthy(failure);
  t.is(failure!.outcome, 'failure');
  t.truthy(failure!.ip);
  const succeeded = await listAuditEvents(server.deps, { type: 'user.signed_in', actorId: user.id });
  t.is(succeeded.items.length, 1);
  const everything = JSON.stringify((await listAuditEvents(server.deps, { limit: 1000 })).items);
  t.false(everything.includes(user.password));
  t.false(everything.includes('not-the-password'));
});
