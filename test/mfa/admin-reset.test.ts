import test from 'ava';
import { listAuditEvents } from '../../src/domain/audit.js';
import { factorsOf } from '../../src/domain/factors/summary.js';
import { updateUser } from '../../src/domain/users.js';
import { testActor } from '../helpers/actor.js';
import { adminClientToken, adminFetch } from '../helpers/admin.js';
import { Browser, openPage, signInThrough, submitPage } from '../helpers/browser.js';
import { afterPassword, enrolTotp, idTokenClaims, toCallback } from '../helpers/factors.js';
import { createTestUser, registerRp, type RelyingParty, type TestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertOneLineError, cliFor, json } from '../cli/support.js';

// An admin's answer to a lost phone: the user's second factors go (API, CLI, console), the
// reset is audited, and the user signs in with the password alone afterwards.

let server: TestServer;
let rp: RelyingParty;
let token: string;
let cli: ReturnType<typeof cliFor>;

test.before(async () => {
  server = await startTestServer();
  rp = await registerRp(server);
  ({ token } = await adminClientToken(server));
  cli = cliFor(server);
});

test.after.always(async () => {
  await server?.dispose();
});

const url = (path: string) => `${server.issuer}${path}`;

/** A user with an authenticator app and its ten recovery codes. */
async function userWithFactors(): Promise<TestUser> {
  const user = await createTestUser(server);
  await enrolTotp(server, user);
  return user;
}

/** After a reset the password is the whole sign-in: no code page, one factor in the ID token. */
async function signsInWithPasswordAlone(user: TestUser): Promise<{ acr: unknown; amr: unknown }> {
  const browser = new Browser();
  const { request, step } = await afterPassword(browser, rp, user);
  if (step.url.pathname.endsWith('/mfa')) throw new Error('the code was asked for');
  const claims = await idTokenClaims(rp, await toCallback(browser, rp, step), request);
  return { acr: claims.acr, amr: claims.amr };
}

async function resetAudit(userId: string) {
  return (await listAuditEvents(server.deps, { type: 'user.factors_reset', subjectId: userId })).items;
}

test('the admin API shows a user\'s factors and resets them, saying what it removed', async (t) => {
  const user = await userWithFactors();
  const before = await adminFetch(server, token, `/users/${user.id}`);
  t.is(before.status, 200);
  t.deepEqual(before.body!.factors, { totp: true, passkeys: 0, recovery_codes_left: 10 });
  // Lists stay one query: they do not count factors per user.
  const list = await adminFetch(server, token, `/users?email=${encodeURIComponent(user.email)}`);
  t.false('factors' in ((list.body!.items as Array<Record<string, unknown>>)[0] ?? {}));

  const reset = await adminFetch(server, token, `/users/${user.id}/factors`, { method: 'DELETE' });
  t.is(reset.status, 200);
  t.deepEqual(reset.body, { user_id: user.id, removed: { totp: true, passkeys: 0, recovery_codes: 10 } });
  t.deepEqual((await adminFetch(server, token, `/users/${user.id}`)).body!.factors, { totp: false, passkeys: 0, recovery_codes_left: 0 });

  const [audited] = await resetAudit(user.id);
  t.like(audited, { actorType: 'client', outcome: 'success', details: { totp: true, passkeys: 0, recovery_codes: 10 } });
  t.deepEqual(await signsInWithPasswordAlone(user), { acr: 'urn:latchkey:acr:single-factor', amr: ['pwd'] });

  // Nothing left: a second reset removes nothing and says so.
  const again = await adminFetch(server, token, `/users/${user.id}/factors`, { method: 'DELETE' });
  t.deepEqual(again.body!.removed, { totp: false, passkeys: 0, recovery_codes: 0 });
  const missing = await adminFetch(server, token, '/users/00000000-0000-4000-8000-000000000000/factors', { method: 'DELETE' });
  t.is(missing.status, 404);
  const openapi = await adminFetch(server, undefined, '/openapi.json');
  const paths = openapi.body!.paths as Record<string, Record<string, unknown>>;
  t.truthy(paths['/users/{id}/factors']?.delete);
});

test('the CLI resets a user\'s factors by email or id, as JSON or a sentence, and names a user it cannot find', async (t) => {
  const byEmail = await userWithFactors();
  const result = json(t, await cli(['users', 'reset-factors', byEmail.email, '--json']));
  t.deepEqual(result, { user_id: byEmail.id, removed: { totp: true, passkeys: 0, recovery_codes: 10 } });
  t.deepEqual(await factorsOf(server.deps, byEmail.id), { totp: false, passkeys: 0, recoveryCodesLeft: 0 });
  const [audited] = await resetAudit(byEmail.id);
  t.is(audited?.actorType, 'cli');

  const byId = await userWithFactors();
  const human = await cli(['users', 'reset-factors', byId.id]);
  t.is(human.code, 0, human.stderr);
  t.is(human.stdout.trim(), `reset the second factors of ${byId.id}: removed the authenticator app, 10 recovery codes`);
  t.is((await cli(['users', 'get', byId.id, '--json'])).stdout.includes('"recovery_codes_left": 0'), true);
  t.deepEqual(await signsInWithPasswordAlone(byId), { acr: 'urn:latchkey:acr:single-factor', amr: ['pwd'] });

  assertOneLineError(t, await cli(['users', 'reset-factors', 'nobody@example.com']), 'nobody@example.com');
});

test('the console shows a user\'s second factors and resets them after a confirmation page', async (t) => {
  const admin = await createTestUser(server);
  await updateUser(server.deps, testActor, admin.id, { isAdmin: true });
  const user = await userWithFactors();
  const browser = new Browser();
  const page = await signInThrough(browser, url(`/admin/users/${user.id}`), admin);
  t.is(page.status, 200);
  t.regex(page.html, /Second factors/);
  t.regex(page.html, /<dt>Authenticator app<\/dt><dd>Set up<\/dd>/);
  t.regex(page.html, /<dt>Unused recovery codes<\/dt><dd>10<\/dd>/);
  t.regex(page.html, new RegExp(`href="/admin/users/${user.id}/factors/reset"`));

  const confirm = await openPage(browser, url(`/admin/users/${user.id}/factors/reset`));
  t.is(confirm.status, 200);
  t.regex(confirm.html, /Reset the second factors of/);
  // Opening the confirmation changes nothing.
  t.true((await factorsOf(server.deps, user.id)).totp);

  const done = await submitPage(browser, confirm, `/admin/users/${user.id}/factors/reset`);
  t.is(done.status, 303);
  t.is(done.headers.get('location'), `/admin/users/${user.id}`);
  const after = await openPage(browser, url(`/admin/users/${user.id}`));
  t.regex(after.html, /Reset the second factors of/);
  t.regex(after.html, /<dt>Authenticator app<\/dt><dd>Not set up<\/dd>/);
  t.notRegex(after.html, /factors\/reset"/, 'nothing left to reset');
  t.deepEqual(await factorsOf(server.deps, user.id), { totp: false, passkeys: 0, recoveryCodesLeft: 0 });

  const [audited] = await resetAudit(user.id);
  t.like(audited, { actorType: 'user', actorId: admin.id });
  t.deepEqual(await signsInWithPasswordAlone(user), { acr: 'urn:latchkey:acr:single-factor', amr: ['pwd'] });
});
