import { randomBytes } from 'node:crypto';
import test from 'ava';
import { listAuditEvents } from '../../src/domain/audit.js';
import { listUserGrants } from '../../src/domain/grants.js';
import { listUsers, updateUser } from '../../src/domain/users.js';
import { testActor } from '../helpers/actor.js';
import { Browser, findForm } from '../helpers/browser.js';
import { authorizationRequest, createTestUser, go, isConsentPage, isLoginPage, registerRp, submitLogin, type RelyingParty, type Step, type TestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let rp: RelyingParty;

test.before(async () => {
  server = await startTestServer();
  rp = await registerRp(server);
});

test.after.always(async () => {
  await server?.dispose();
});

/** The three ways a cross-site form could try its luck: no token, a made-up one, someone else's. */
async function forgeries(anotherBrowsersToken: string): Promise<Array<[string, Record<string, string>]>> {
  return [
    ['without a token', {}],
    ['with a forged token', { _csrf: randomBytes(32).toString('base64url') }],
    ["with another browser's token", { _csrf: anotherBrowsersToken }],
  ];
}

async function expectRefused(t: import('ava').ExecutionContext, response: Response, what: string): Promise<void> {
  t.is(response.status, 403, what);
  t.true((await response.text()).includes('This form has expired'), what);
}

/** A CSRF token another browser got from a sign-in page of its own. */
async function tokenOfAnotherBrowser(): Promise<string> {
  const other = new Browser();
  const page = await go(other, rp, (await authorizationRequest(rp)).url);
  return findForm(page.html, '/login').fields._csrf!;
}

test('the sign-in form refuses a post without its CSRF token, and nobody is signed in', async (t) => {
  const user = await createTestUser(server);
  const browser = new Browser();
  const request = await authorizationRequest(rp);
  const page = await go(browser, rp, request.url);
  const form = findForm(page.html, '/login');
  const { _csrf: ownToken, ...fields } = form.fields;
  t.truthy(ownToken);

  for (const [what, csrf] of await forgeries(await tokenOfAnotherBrowser())) {
    await expectRefused(t, await browser.post(new URL(form.action, page.url), { ...fields, ...csrf, email: user.email, password: user.password }), what);
  }
  const signIns = await listAuditEvents(server.deps, { type: 'user.signed_in', actorId: user.id });
  t.is(signIns.items.length, 0);
  const again = await go(browser, rp, (await authorizationRequest(rp)).url);
  t.true(isLoginPage(again), 'a new request still asks to sign in');

  // The form's own token goes through.
  t.true(isConsentPage(await submitLogin(browser, rp, again, user)));
});

test('the consent form refuses a post without its CSRF token, and no grant is made', async (t) => {
  const user = await createTestUser(server);
  const browser = new Browser();
  const consent: Step = await submitLogin(browser, rp, await go(browser, rp, (await authorizationRequest(rp)).url), user);
  t.true(isConsentPage(consent));
  const form = findForm(consent.html, '/confirm');
  const { _csrf: ownToken, ...fields } = form.fields;

  for (const [what, csrf] of await forgeries(await tokenOfAnotherBrowser())) {
    await expectRefused(t, await browser.post(new URL(form.action, consent.url), { ...fields, ...csrf }), what);
  }
  t.deepEqual(await listUserGrants(server.deps, user.id), []);

  const accepted = await browser.post(new URL(form.action, consent.url), { ...fields, _csrf: ownToken! });
  t.is(accepted.status, 303);
  t.is((await listUserGrants(server.deps, user.id)).length, 1);
});

interface ConsoleAdmin {
  browser: Browser;
  /** The CSRF token of this admin's console pages. */
  token: string;
}

/** An admin signed in to the console on Latchkey's own sign-in page, as a browser would. */
async function consoleAdmin(): Promise<ConsoleAdmin> {
  const user: TestUser = await createTestUser(server);
  await updateUser(server.deps, testActor, user.id, { isAdmin: true });
  const browser = new Browser();
  const { url, response } = await browser.follow(`${server.issuer}/admin`);
  const form = findForm(await response.text(), '/login');
  const posted = await browser.post(new URL(form.action, url), { ...form.fields, email: user.email, password: user.password });
  const location = posted.headers.get('location');
  if (posted.status !== 303 || !location) throw new Error(`sign-in answered ${posted.status}`);
  const landed = await browser.follow(new URL(location, url));
  const page = await landed.response.text();
  return { browser, token: findForm(page, '/admin/logout').fields._csrf! };
}

test('the admin console refuses a post without its CSRF token, and nothing is created', async (t) => {
  const [admin, otherAdmin] = await Promise.all([consoleAdmin(), consoleAdmin()]);
  const email = `csrf-${randomBytes(4).toString('hex')}@example.com`;
  const created = async () => (await listUsers(server.deps, { email })).items.length;

  for (const [what, csrf] of await forgeries(otherAdmin.token)) {
    await expectRefused(t, await admin.browser.post(`${server.issuer}/admin/users`, { ...csrf, email, password: 'a long enough password' }), what);
  }
  t.is(await created(), 0);

  const accepted = await admin.browser.post(`${server.issuer}/admin/users`, { _csrf: admin.token, email, password: 'a long enough password' });
  t.is(accepted.status, 303);
  t.is(await created(), 1);
});
