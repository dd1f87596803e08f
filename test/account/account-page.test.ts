import test from 'ava';
import * as oidc from 'openid-client';
import { authenticate } from '../../src/domain/accounts.js';
import { listAuditEvents } from '../../src/domain/audit.js';
import { verifyEmail } from '../../src/domain/email-verification.js';
import { ACCOUNT_CLIENT_ID } from '../../src/domain/first-party-clients.js';
import { listUserGrants } from '../../src/domain/grants.js';
import { getUser } from '../../src/domain/users.js';
import { testActor } from '../helpers/actor.js';
import { Browser, findForm, openPage, type Page, signInThrough } from '../helpers/browser.js';
import { authorizationRequest, createTestUser, go, isConsentPage, isLoginPage, redeem, registerRp, signIn, type RelyingParty, type TestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

const open = (browser: Browser, target: string | URL) => openPage(browser, target);


const url = (path: string) => `${server.issuer}${path}`;


/** Opens the account page and signs in on Latchkey's own sign-in page, as a browser would. */
async function signInToAccount(user: TestUser, browser = new Browser()): Promise<{ browser: Browser; page: Page }> {
  return { browser, page: await signInThrough(browser, url('/account'), user) };
}

/** Posts a form of the page the way the browser shows it: its hidden fields (_csrf) plus `fields`. */
async function submit(browser: Browser, page: Page, action: string, fields: Record<string, string> = {}): Promise<Response> {
  const form = findForm(page.html, action);
  return browser.post(new URL(form.action, page.url), { ...form.fields, ...fields });
}

/** The user signs in to `rp` in `browser`, allows it to stay connected, and the code is redeemed. */
async function connectApp(browser: Browser, rp: RelyingParty, user: TestUser) {
  const { callback, request } = await signIn(browser, rp, user, { scope: 'openid profile email offline_access', prompt: 'consent' });
  const tokens = await redeem(rp, callback, request);
  if (!tokens.refresh_token) throw new Error('no refresh token was issued');
  return tokens;
}

async function refreshError(rp: RelyingParty, refreshToken: string): Promise<string | undefined> {
  try {
    await oidc.refreshTokenGrant(rp.config, refreshToken);
    return undefined;
  } catch (error) {
    if (error instanceof oidc.ResponseBodyError) return error.error;
    throw error;
  }
}

/** The sessions table's row for this browser's session, and the rows of the others. */
function sessionRows(html: string): { current: string[]; others: string[] } {
  const rows = [...html.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((match) => match[1]!).filter((row) => row.includes('/sign-out"'));
  const action = (row: string) => /action="([^"]*\/sign-out)"/.exec(row)![1]!;
  return { current: rows.filter((row) => row.includes('This device')).map(action), others: rows.filter((row) => !row.includes('This device')).map(action) };
}

test('the account page signs in through Latchkey with PKCE, without a consent screen, and keeps its session in a locked-down cookie', async (t) => {
  const user = await createTestUser(server);
  const browser = new Browser();
  const start = await browser.request(url('/account/sessions'));
  t.is(start.status, 303);
  const authorize = new URL(start.headers.get('location')!);
  t.is(authorize.origin + authorize.pathname, url('/auth'));
  t.is(authorize.searchParams.get('client_id'), ACCOUNT_CLIENT_ID);
  t.is(authorize.searchParams.get('code_challenge_method'), 'S256');
  t.is(authorize.searchParams.get('scope'), 'openid profile email');

  const login = await open(browser, authorize);
  const form = findForm(login.html, '/login');
  const posted = await browser.post(new URL(form.action, login.url), { ...form.fields, email: user.email, password: user.password });
  // Straight back to the account page: no consent for Latchkey's own application.
  const { url: callback } = await browser.follow(new URL(posted.headers.get('location')!, login.url), (next) => next.pathname === '/account/callback');
  const landing = await browser.request(callback);
  t.is(landing.status, 303);
  t.is(landing.headers.get('location'), '/account/sessions');
  const cookie = landing.headers.getSetCookie().find((line) => line.startsWith('latchkey_account='));
  t.truthy(cookie);
  t.regex(cookie!, /; Path=\/account; HttpOnly; SameSite=Lax/);
  t.false(cookie!.includes('Secure'), 'the test issuer is http');

  const page = await open(browser, url('/account/sessions'));
  t.is(page.status, 200);
  t.true(page.html.includes('<h1>Sessions</h1>'));
  const profile = await open(browser, url('/account'));
  t.true(profile.html.includes(user.email));
  for (const action of ['/account/profile', '/account/email', '/account/logout']) t.truthy(findForm(profile.html, action).fields._csrf, action);
});

test('cancelling the sign-in shows that the account page is not signed in', async (t) => {
  const browser = new Browser();
  const login = await open(browser, url('/account'));
  const cancel = await submit(browser, login, '/abort');
  t.is(cancel.status, 303);
  const page = await open(browser, new URL(cancel.headers.get('location')!, login.url));
  t.is(page.url.pathname, '/account/callback');
  t.is(page.status, 200);
  t.true(page.html.includes('You are signed out of your account page'));
});

test('a changed name is saved and shown', async (t) => {
  const user = await createTestUser(server, { name: 'Before' });
  const { browser, page } = await signInToAccount(user);
  t.true(page.html.includes('value="Before"'));
  const response = await submit(browser, page, '/account/profile', { name: 'After Change' });
  t.is(response.status, 303);
  t.is((await getUser(server.deps, user.id)).name, 'After Change');
  const shown = await open(browser, url('/account'));
  t.true(shown.html.includes('Your name was saved.'));
  t.true(shown.html.includes('value="After Change"'));
});

test('a POST without the CSRF token is refused and changes nothing', async (t) => {
  const user = await createTestUser(server, { name: 'Unchanged' });
  const { browser } = await signInToAccount(user);
  const missing = await browser.post(url('/account/profile'), { name: 'Forged' });
  t.is(missing.status, 403);
  t.true((await missing.text()).includes('This form has expired'));
  const sessions = await open(browser, url('/account/sessions'));
  const forged = await browser.post(url(sessionRows(sessions.html).current[0]!), {});
  t.is(forged.status, 403);
  await forged.body?.cancel();
  t.is((await getUser(server.deps, user.id)).name, 'Unchanged');
  t.is((await open(browser, url('/account'))).status, 200, 'still signed in');
});

test('a wrong current password is refused next to its field and changes nothing', async (t) => {
  const user = await createTestUser(server);
  const { browser } = await signInToAccount(user);
  const page = await open(browser, url('/account/password'));
  const response = await submit(browser, page, '/account/password', { currentPassword: 'not-the-password', password: 'a brand new passphrase', confirmation: 'a brand new passphrase' });
  t.is(response.status, 400);
  t.regex(await response.text(), /<p class="field-error" id="currentPassword-error">is not correct<\/p>/);
  await t.notThrowsAsync(authenticate(server.deps, { email: user.email, password: user.password }));
  await t.throwsAsync(authenticate(server.deps, { email: user.email, password: 'a brand new passphrase' }));
});

test('a new password that breaks the policy or its confirmation is shown next to those fields', async (t) => {
  const user = await createTestUser(server);
  const { browser } = await signInToAccount(user);
  const page = await open(browser, url('/account/password'));
  const response = await submit(browser, page, '/account/password', { currentPassword: user.password, password: 'short', confirmation: 'different' });
  t.is(response.status, 400);
  const html = await response.text();
  t.regex(html, /<p class="field-error" id="password-error">must be at least \d+ characters<\/p>/);
  t.regex(html, /<p class="field-error" id="confirmation-error">does not match the new password<\/p>/);
  await t.notThrowsAsync(authenticate(server.deps, { email: user.email, password: user.password }));
});

test('changing the password ends the other sessions and refresh tokens, and this browser stays signed in', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const app = await connectApp(new Browser(), rp, user);
  const other = await signInToAccount(user);
  const { browser } = await signInToAccount(user);

  const page = await open(browser, url('/account/password'));
  const newPassword = 'correct horse battery staple 42';
  const response = await submit(browser, page, '/account/password', { currentPassword: user.password, password: newPassword, confirmation: newPassword });
  t.is(response.status, 303);
  t.true((await open(browser, url('/account/password'))).html.includes('Your password was changed.'));

  t.is((await authenticate(server.deps, { email: user.email, password: newPassword })).id, user.id);
  await t.throwsAsync(authenticate(server.deps, { email: user.email, password: user.password }));
  t.is(await refreshError(rp, app.refresh_token!), 'invalid_grant');
  // The other browser's account page and provider session have ended: it is asked to sign in.
  const elsewhere = await open(other.browser, url('/account'));
  t.true(elsewhere.html.includes('action="/interaction/'), 'the other browser sees the sign-in page');
  const here = await open(browser, url('/account'));
  t.is(here.status, 200);
  t.is(here.url.pathname, '/account');
});

test('connected apps lists an app the user allowed; revoking it ends its tokens and it has to ask again', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server, { name: 'Photo Album' });
  const appBrowser = new Browser();
  const app = await connectApp(appBrowser, rp, user);
  const { browser } = await signInToAccount(user);

  const page = await open(browser, url('/account/apps'));
  t.true(page.html.includes('Photo Album'));
  t.true(page.html.includes('See your email address'));
  t.false(page.html.includes('Your Latchkey account'), 'Latchkey’s own application is not listed');
  const [grant] = await listUserGrants(server.deps, user.id).then((grants) => grants.filter((entry) => entry.clientId === rp.clientId));
  const revoke = await submit(browser, page, `/account/apps/${encodeURIComponent(grant!.grantId)}/revoke`);
  t.is(revoke.status, 303);
  const after = await open(browser, url('/account/apps'));
  t.true(after.html.includes('<span translate="no">Photo Album</span> no longer has access to your account.'));
  t.true(after.html.includes('No applications have access to your account.'));

  t.is(await refreshError(rp, app.refresh_token!), 'invalid_grant');
  t.is((await fetch(url('/me'), { headers: { authorization: `Bearer ${app.access_token}` } })).status, 401);
  const again = await go(appBrowser, rp, (await authorizationRequest(rp)).url);
  t.true(isConsentPage(again), 'the app has to ask for consent again');

  const events = await listAuditEvents(server.deps, { type: 'grant.revoked', actorId: user.id });
  t.is(events.items.length, 1);
  t.is(events.items[0]!.actorType, 'user');
});

test('another user’s grant cannot be revoked from the account page', async (t) => {
  const owner = await createTestUser(server);
  const rp = await registerRp(server);
  await connectApp(new Browser(), rp, owner);
  const [grant] = await listUserGrants(server.deps, owner.id);
  const { browser, page } = await signInToAccount(await createTestUser(server));
  const csrf = findForm(page.html, '/account/logout').fields._csrf!;
  const response = await browser.post(url(`/account/apps/${encodeURIComponent(grant!.grantId)}/revoke`), { _csrf: csrf });
  t.is(response.status, 404);
  await response.body?.cancel();
  t.is((await listUserGrants(server.deps, owner.id)).length, 1);
});

test('sessions lists each browser; signing one out ends it there and keeps this one', async (t) => {
  const user = await createTestUser(server);
  const other = await signInToAccount(user);
  const { browser } = await signInToAccount(user);

  const page = await open(browser, url('/account/sessions'));
  const rows = sessionRows(page.html);
  t.is(rows.current.length, 1);
  t.is(rows.others.length, 1);
  t.true(page.html.includes('Your Latchkey account'), 'the apps used through each session');

  const response = await submit(browser, page, rows.others[0]!);
  t.is(response.status, 303);
  const after = await open(browser, url('/account/sessions'));
  t.true(after.html.includes('That session was signed out.'));
  t.deepEqual(sessionRows(after.html), { current: rows.current, others: [] });
  // The next authorization request in the other browser asks it to sign in.
  const rp = await registerRp(server);
  t.true(isLoginPage(await go(other.browser, rp, (await authorizationRequest(rp)).url)));

  const events = await listAuditEvents(server.deps, { type: 'user.session_ended', actorId: user.id });
  t.is(events.items.length, 1);
});

test('signing out this device’s session ends it and clears the account cookie', async (t) => {
  const user = await createTestUser(server);
  const { browser } = await signInToAccount(user);
  const page = await open(browser, url('/account/sessions'));
  const response = await submit(browser, page, sessionRows(page.html).current[0]!);
  t.is(response.status, 303);
  t.is(response.headers.get('location'), '/account/signed-out');
  t.false(browser.cookieNames().includes('latchkey_account'));
  t.true((await open(browser, url('/account/signed-out'))).html.includes('You are signed out of your account page'));
  t.true((await open(browser, url('/account'))).html.includes('action="/interaction/'), 'signing in again needs the password');
});

test('“sign out everywhere else” ends every other session', async (t) => {
  const user = await createTestUser(server);
  const first = await signInToAccount(user);
  const second = await signInToAccount(user);
  const { browser } = await signInToAccount(user);
  const page = await open(browser, url('/account/sessions'));
  t.is(sessionRows(page.html).others.length, 2);
  const response = await submit(browser, page, '/account/sessions/sign-out-others');
  t.is(response.status, 303);
  const after = await open(browser, url('/account/sessions'));
  t.true(after.html.includes('Signed out 2 other sessions.'));
  t.is(sessionRows(after.html).others.length, 0);
  for (const elsewhere of [first, second]) t.true((await open(elsewhere.browser, url('/account'))).html.includes('action="/interaction/'));
});

test('changing the email sends a link to the new address and changes nothing until it is used', async (t) => {
  const user = await createTestUser(server);
  const { browser, page } = await signInToAccount(user);
  const newEmail = `new-${user.email}`;
  const response = await submit(browser, page, '/account/email', { newEmail });
  t.is(response.status, 303);
  const shown = await open(browser, url('/account'));
  t.true(shown.html.includes(`We sent a confirmation link to <span translate="no">${newEmail}</span>`));

  const mail = await server.deps.db.knex('mail_outbox').where({ to_address: newEmail }).first();
  t.truthy(mail);
  const unchanged = await getUser(server.deps, user.id);
  t.is(unchanged.email, user.email);
  t.true(unchanged.emailVerified);

  const token = new URL(/https?:\/\/\S+\?token=\S+/.exec(mail.text_body as string)![0]).searchParams.get('token')!;
  await verifyEmail(server.deps, testActor, token);
  t.is((await getUser(server.deps, user.id)).email, newEmail);
  t.true((await open(browser, url('/account'))).html.includes(newEmail));
});

test('an address another account uses gets the same answer as any other, and its link is refused', async (t) => {
  const taken = await createTestUser(server);
  const user = await createTestUser(server);
  const { browser, page } = await signInToAccount(user);
  const response = await submit(browser, page, '/account/email', { newEmail: taken.email });
  t.is(response.status, 303, 'the form does not tell which addresses have accounts');
  const mail = await server.deps.db.knex('mail_outbox').where({ to_address: taken.email }).orderBy('id', 'desc').first();
  const token = new URL(/https?:\/\/\S+\?token=\S+/.exec(mail.text_body as string)![0]).searchParams.get('token')!;
  const refused = await t.throwsAsync(verifyEmail(server.deps, testActor, token));
  t.is((refused as { code?: string }).code, 'user.email_taken');
  t.is((await getUser(server.deps, user.id)).email, user.email);
});

test('signing out revokes the account page’s token and logs out at the provider', async (t) => {
  const user = await createTestUser(server);
  const { browser, page } = await signInToAccount(user);
  const sessionCookie = `latchkey_account=${browser.cookieValues()[browser.cookieNames().indexOf('latchkey_account')]}`;
  const response = await submit(browser, page, '/account/logout');
  t.is(response.status, 303);
  const location = new URL(response.headers.get('location')!);
  t.is(location.pathname, '/session/end');
  t.is(location.searchParams.get('post_logout_redirect_uri'), url('/account/signed-out'));
  const replayed = await fetch(url('/account'), { headers: { cookie: sessionCookie, accept: 'text/html' }, redirect: 'manual' });
  t.is(replayed.status, 303);
  t.true(replayed.headers.get('location')!.startsWith(url('/auth?')));
  t.true((await open(browser, url('/account/signed-out'))).html.includes('You are signed out of your account page'));
});
