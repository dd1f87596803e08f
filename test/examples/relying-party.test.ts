import test from 'ava';
import { listUserGrants, revokeGrant } from '../../src/domain/grants.js';
import { testActor } from '../helpers/actor.js';
import { Browser, findForm, openPage, submitPage, type Page } from '../helpers/browser.js';
import { createTestUser, go, isConsentPage, isLoginPage, submitConsent, submitLogin } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  hasSignInButton,
  pressSignIn,
  shownApiAnswer,
  shownName,
  shownNotice,
  signInAtApp,
  startExampleApi,
  startExampleApp,
  type ExampleApi,
  type ExampleApp,
} from './support.js';

let server: TestServer;
const apis: ExampleApi[] = [];
const apps: ExampleApp[] = [];

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await Promise.all([...apps.map((example) => example.app.close()), ...apis.map((api) => api.server.close())]);
  await server?.dispose();
});

async function exampleFor(format: 'jwt' | 'opaque'): Promise<ExampleApp & { api: ExampleApi }> {
  const api = await startExampleApi(server, format);
  apis.push(api);
  const example = await startExampleApp(server, api);
  apps.push(example);
  return { ...example, api };
}

async function pressButton(browser: Browser, page: Page, action: string): Promise<Page> {
  const posted = await submitPage(browser, page, action);
  const location = posted.headers.get('location');
  if (posted.status !== 303 || !location) throw new Error(`${action} answered ${posted.status}:\n${posted.html}`);
  return openPage(browser, new URL(location, page.url));
}

for (const format of ['jwt', 'opaque'] as const) {
  test(`a user signs in, sees their name and claims, calls the API (${format} access token) and signs out`, async (t) => {
    const example = await exampleFor(format);
    const user = await createTestUser(server, { name: 'Ada Lovelace' });
    const browser = new Browser();

    const home = await openPage(browser, example.app.url);
    t.is(home.status, 200);
    t.true(hasSignInButton(home.html));
    t.is(shownName(home.html), undefined);

    const signedIn = await signInAtApp(browser, example, user);
    t.is(signedIn.url.href, `${example.app.url}/`);
    t.is(shownName(signedIn.html), 'Ada Lovelace');
    t.regex(signedIn.html, new RegExp(`<code>sub</code></th><td>${user.id}</td>`));
    t.regex(signedIn.html, new RegExp(`<code>email</code></th><td>${user.email}</td>`));
    t.false(hasSignInButton(signedIn.html));

    const called = await pressButton(browser, signedIn, '/call-api');
    const answer = shownApiAnswer(called.html);
    t.is(answer?.status, '200');
    t.like(JSON.parse(answer!.body), { sub: user.id, client_id: example.client.clientId, scope: 'hello:read', token_format: format });
    t.deepEqual(
      (await listUserGrants(server.deps, user.id)).map((grant) => grant.clientId),
      [example.client.clientId],
    );

    const logoutPage = await pressButton(browser, called, '/logout');
    const confirm = findForm(logoutPage.html, '/session/end/confirm');
    const confirmed = await browser.post(new URL(confirm.action, logoutPage.url), { ...confirm.fields, logout: 'yes' });
    t.is(confirmed.status, 303);
    const back = await openPage(browser, new URL(confirmed.headers.get('location')!, logoutPage.url));
    t.is(`${back.url.origin}${back.url.pathname}`, `${example.app.url}/`);
    t.is(shownNotice(back.html), 'You have signed out.');
    t.is(shownName(back.html), undefined);
    t.true(hasSignInButton(back.html));

    // Signed out of Latchkey too (its sign-in page, not straight to consent), and the app's
    // offline access is gone, which Latchkey's logout alone would have kept.
    t.true(isLoginPage(await pressSignIn(browser, example)));
    t.deepEqual(await listUserGrants(server.deps, user.id), []);
  });
}

test('a user who denies access comes back signed out, told so', async (t) => {
  const example = await exampleFor('jwt');
  const user = await createTestUser(server);
  const browser = new Browser();
  const signInPage = await pressSignIn(browser, example);
  const consent = await submitLogin(browser, example.client, signInPage, user);
  t.true(isConsentPage(consent));
  const callback = await submitConsent(browser, example.client, consent, 'abort');
  const page = await openPage(browser, callback.url);
  t.is(shownNotice(page.html), 'You did not allow the app to use your Latchkey account.');
  t.true(hasSignInButton(page.html));
});

test('a callback whose state is not the one the app sent signs nobody in', async (t) => {
  const example = await exampleFor('jwt');
  const user = await createTestUser(server);
  const browser = new Browser();
  const signInPage = await pressSignIn(browser, example);
  const callback = await submitConsent(browser, example.client, await submitLogin(browser, example.client, signInPage, user));
  // A genuine code, which the app could redeem (same browser, same PKCE verifier), under another state.
  const forged = new URL(callback.url);
  forged.searchParams.set('state', 'made-up');
  const page = await openPage(browser, forged);
  t.regex(shownNotice(page.html) ?? '', /^Sign-in failed: /);
  t.is(shownName(page.html), undefined);
  t.true(hasSignInButton(page.html));
});

test('sign-out and API calls without the page’s CSRF token are refused', async (t) => {
  const example = await exampleFor('jwt');
  const user = await createTestUser(server, { name: 'Grace Hopper' });
  const browser = new Browser();
  const signedIn = await signInAtApp(browser, example, user);
  for (const action of ['/logout', '/call-api']) {
    const response = await browser.post(new URL(action, example.app.url), { _csrf: 'forged' });
    t.is(response.status, 403, action);
    await response.body?.cancel();
  }
  const still = await openPage(browser, signedIn.url);
  t.is(shownName(still.html), 'Grace Hopper');
  t.is(shownApiAnswer(still.html), undefined);
});

test('when the user revokes the app’s access, its next API call signs them out of the app', async (t) => {
  const example = await exampleFor('jwt');
  const user = await createTestUser(server);
  const browser = new Browser();
  const signedIn = await signInAtApp(browser, example, user);
  const [grant] = await listUserGrants(server.deps, user.id);
  await revokeGrant(server.deps, testActor, grant!.grantId);
  const after = await pressButton(browser, signedIn, '/call-api');
  t.is(shownNotice(after.html), 'Your access through Latchkey has ended. Please sign in again.');
  t.is(shownName(after.html), undefined);
  t.true(hasSignInButton(after.html));
});

test('the sign-in button leads to Latchkey with PKCE (S256), state, nonce and the API as resource', async (t) => {
  const example = await exampleFor('jwt');
  const browser = new Browser();
  const home = await openPage(browser, example.app.url);
  const response = await browser.post(new URL('/login', example.app.url), findForm(home.html, '/login').fields);
  t.is(response.status, 303);
  const authorize = new URL(response.headers.get('location')!);
  t.is(`${authorize.origin}${authorize.pathname}`, `${server.issuer}/auth`);
  const params = authorize.searchParams;
  t.is(params.get('client_id'), example.client.clientId);
  t.is(params.get('redirect_uri'), `${example.app.url}/callback`);
  t.is(params.get('code_challenge_method'), 'S256');
  t.regex(params.get('code_challenge') ?? '', /^[\w-]{43}$/);
  t.truthy(params.get('state'));
  t.truthy(params.get('nonce'));
  t.is(params.get('resource'), example.api.identifier);
  t.deepEqual(params.get('scope')?.split(' ').sort(), ['email', 'hello:read', 'offline_access', 'openid', 'profile']);
  const cookie = response.headers.getSetCookie().find((line) => line.startsWith('example_rp_session='));
  t.regex(cookie ?? '', /httponly/i);
  t.regex(cookie ?? '', /samesite=lax/i);
  // Latchkey accepts the request as built: it shows its sign-in page.
  t.true(isLoginPage(await go(browser, example.client, authorize)));
});
