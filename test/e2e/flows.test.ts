import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import type { Browser, Locator, Page } from 'playwright-core';
import { listClients } from '../../src/domain/clients.js';
import { listUserGrants } from '../../src/domain/grants.js';
import { updateUser } from '../../src/domain/users.js';
import { testActor } from '../helpers/actor.js';
import { authorizationRequest, createTestUser, postWithBasic, redeem, registerRp } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { cspViolations, launchBrowser, newContext, screenshot, startStubApp, type StubApp } from './support/browser.js';
import { consentForm, loginForm, navigateBy, openSignedIn, signInToRp } from './support/flows.js';

// The flows a person clicks through: the account page, the admin console, a keyboard-only
// sign-in. One server and one browser for the file (each costs seconds to start); a fresh
// browser profile for each test.

let server: TestServer;
let browser: Browser;
let app: StubApp;

test.before(async () => {
  // Assigned one by one, so the after hook closes whatever did start when another part failed.
  await Promise.all([
    startTestServer().then((started) => (server = started)),
    launchBrowser().then((launched) => (browser = launched)),
    startStubApp().then((started) => (app = started)),
  ]);
});

test.after.always(async () => {
  await browser?.close();
  await server?.dispose();
  await app?.close();
});

/** A relying party whose redirect URIs lead to the stub app, so the browser lands somewhere real. */
const newRp = (name: string) => registerRp(server, { name, redirectUris: [app.callback], postLogoutRedirectUris: [app.signedOut] });

// ---- The account page: connected apps ----

// The account page promises to work without JavaScript: the same clicks, both ways.
for (const javaScriptEnabled of [true, false]) {
  const how = javaScriptEnabled ? '' : ', with JavaScript off';
  test(`a signed-in user revokes an app's access on the account page and sees it gone${how}`, async (t) => {
    const appName = `Revocable ${randomBytes(3).toString('hex')}`;
    const [rp, user] = await Promise.all([newRp(appName), createTestUser(server)]);
    const context = await newContext(browser, { javaScriptEnabled });
    t.teardown(() => context.close());
    const page = await context.newPage();
    const refused = cspViolations(page);

    // A real grant: the user signs in to the app and allows it.
    await signInToRp(page, rp, user);
    t.true((await listUserGrants(server.deps, user.id)).some((grant) => grant.clientId === rp.clientId), 'signing in to the app made a grant');

    // The browser's Latchkey session carries over to the account page: no second sign-in.
    await openSignedIn(page, `${server.issuer}/account/apps`, user);
    const row = page.locator('tr', { has: page.getByRole('rowheader', { name: appName, exact: true }) });
    await t.notThrowsAsync(row.waitFor({ state: 'visible' }), 'the app is listed before it is revoked');
    await screenshot(t, page, javaScriptEnabled ? 'flow-account-apps-before-revoke' : 'flow-account-apps-before-revoke-nojs');

    await navigateBy(page, () => row.locator('button[type=submit]').click());
    t.is(new URL(page.url()).pathname, '/account/apps');
    t.is(await page.getByRole('rowheader', { name: appName, exact: true }).count(), 0, 'the app is gone from the list');
    // The page says which app lost access (the confirmation names it, in whatever language).
    t.true((await page.locator('main').innerText()).includes(appName), 'the confirmation names the app');
    await screenshot(t, page, javaScriptEnabled ? 'flow-account-apps-after-revoke' : 'flow-account-apps-after-revoke-nojs');

    t.false((await listUserGrants(server.deps, user.id)).some((grant) => grant.clientId === rp.clientId), 'the grant is revoked in the database');
    // After a reload too: the list is read from the server, not patched up in the page.
    await page.reload();
    t.is(await page.getByRole('rowheader', { name: appName, exact: true }).count(), 0);
    t.deepEqual(refused, [], 'the pages break no Content-Security-Policy rule');
  });
}

// ---- The admin console: a new client's secret ----

/** A client secret as Latchkey makes them (32 random bytes, base64url): what to look for on a page. */
const SECRET_SHAPE = /^[\w-]{43}$/;

// The console promises to work without JavaScript: the same clicks, both ways.
for (const javaScriptEnabled of [true, false]) {
  const how = javaScriptEnabled ? '' : ', with JavaScript off';
  test(`an admin creates a client in the console and sees its secret once${how}`, async (t) => {
    const admin = await createTestUser(server);
    await updateUser(server.deps, testActor, admin.id, { isAdmin: true });
    const context = await newContext(browser, { javaScriptEnabled });
    t.teardown(() => context.close());
    const page = await context.newPage();
    const refused = cspViolations(page);
    const suffix = javaScriptEnabled ? '' : '-nojs';

    await openSignedIn(page, `${server.issuer}/admin/clients/new`, admin);
    const name = `Billing worker ${randomBytes(3).toString('hex')}`;
    const form = page.locator('form[method="post"][action="/admin/clients"]');
    await form.locator('#name').fill(name);
    await form.locator('#redirectUris').fill('https://billing.example/callback');
    // client_credentials as well, so the secret shown can be tried at the token endpoint.
    await form.locator('#grant-client_credentials').check();
    await screenshot(t, page, `flow-admin-client-new${suffix}`);
    await navigateBy(page, () => form.locator('button[type=submit]').click());

    const created = (await listClients(server.deps, { name })).items;
    t.is(created.length, 1, 'the console created the client');
    const clientId = created[0]!.clientId;
    const codes = await page.locator('main code').allInnerTexts();
    t.true(codes.includes(clientId), 'the page shows the client id');
    const secrets = codes.filter((text) => SECRET_SHAPE.test(text.trim()));
    t.is(secrets.length, 1, `the page shows one secret (code elements: ${JSON.stringify(codes)})`);
    const secret = secrets[0]!.trim();
    await screenshot(t, page, `flow-admin-client-created${suffix}`);

    // The secret shown is the client's real secret, not a placeholder.
    const token = await postWithBasic(`${server.issuer}/token`, { clientId, clientSecret: secret }, { grant_type: 'client_credentials' });
    t.is(token.status, 200, `the token endpoint accepts the secret: ${await token.text()}`);

    // Follow the page's own link to the client: the secret is never shown again.
    await navigateBy(page, () => page.locator(`main a[href="/admin/clients/${encodeURIComponent(clientId)}"]`).last().click());
    t.is(new URL(page.url()).pathname, `/admin/clients/${clientId}`);
    t.true((await page.locator('main').innerText()).includes(clientId), "the client's page is the right client");
    t.false((await page.content()).includes(secret), "the client's page does not show the secret");
    await screenshot(t, page, `flow-admin-client-page${suffix}`);
    await page.goto(`${server.issuer}/admin/clients`);
    t.false((await page.content()).includes(secret), 'the client list does not show the secret');
    t.deepEqual(refused, [], 'the pages break no Content-Security-Policy rule');
  });
}

// ---- Keyboard-only sign-in ----

// What the functions run in the page use of it; tsconfig has no DOM library (the code is Node's).
declare const document: { activeElement: { outerHTML: string } | null };
declare function getComputedStyle(element: unknown): Record<'outlineStyle' | 'outlineWidth' | 'outlineColor' | 'outlineOffset' | 'boxShadow', string>;

/** How an element shows focus: the computed properties a focus ring is drawn with. */
async function focusStyle(element: Locator): Promise<string> {
  return element.evaluate((el) => {
    const style = getComputedStyle(el);
    return [style.outlineStyle, style.outlineWidth, style.outlineColor, style.outlineOffset, style.boxShadow].join(' | ');
  });
}

/** True when a computed focus style draws something: an outline of some width, or a box shadow. */
function drawsARing(style: string): boolean {
  const [outlineStyle, outlineWidth, , , boxShadow] = style.split(' | ');
  return (outlineStyle !== 'none' && parseFloat(outlineWidth ?? '0') > 0) || (boxShadow !== undefined && boxShadow !== 'none');
}

/** True when `element` is the document's focused element. */
async function hasFocus(element: Locator): Promise<boolean> {
  return element.evaluate((el) => el === document.activeElement);
}

/** What has focus, for a failure message. */
async function focusedElement(page: Page): Promise<string> {
  return page.evaluate(() => document.activeElement?.outerHTML.slice(0, 160) ?? 'nothing');
}

async function assertFocusVisible(t: ExecutionContext, element: Locator, unfocused: string, what: string) {
  const focused = await focusStyle(element);
  t.true(drawsARing(focused), `${what} shows a focus ring when focused from the keyboard (${focused})`);
  t.not(focused, unfocused, `${what} looks different focused and unfocused`);
}

test('keyboard only: Tab goes email, password, sign-in button with focus visible, Enter signs in, and the flow completes', async (t) => {
  const [rp, user] = await Promise.all([newRp('Keyboard app'), createTestUser(server)]);
  const context = await newContext(browser);
  t.teardown(() => context.close());
  const page = await context.newPage();
  const refused = cspViolations(page);
  const request = await authorizationRequest(rp);
  await page.goto(request.url.href);

  const form = loginForm(page);
  const email = form.locator('#email');
  const password = form.locator('#password');
  const submit = form.locator('button[type=submit]');
  const unfocusedPassword = await focusStyle(password);
  const unfocusedSubmit = await focusStyle(submit);

  // The page may focus the email field itself (autofocus); otherwise Tab reaches it first,
  // after the skip link only.
  if (!(await hasFocus(email))) {
    await page.keyboard.press('Tab');
    if (!(await hasFocus(email))) {
      t.true(await hasFocus(page.locator('a[href="#main"]')), `Tab from the top goes to the skip link or the email field; focus is on ${await focusedElement(page)}`);
      await page.keyboard.press('Tab');
    }
  }
  t.true(await hasFocus(email), `the email field is the first field Tab reaches; focus is on ${await focusedElement(page)}`);
  // Its ring is compared once it is unfocused, below.
  const focusedEmail = await focusStyle(email);
  t.true(drawsARing(focusedEmail), `the email field shows a focus ring (${focusedEmail})`);
  await page.keyboard.type(user.email);

  await page.keyboard.press('Tab');
  t.true(await hasFocus(password), `Tab from email goes to the password; focus is on ${await focusedElement(page)}`);
  t.not(await focusStyle(email), focusedEmail, 'the email field looks different focused and unfocused');
  await assertFocusVisible(t, password, unfocusedPassword, 'the password field');
  await page.keyboard.type(user.password);

  await page.keyboard.press('Tab');
  t.true(await hasFocus(submit), `Tab from the password goes to the sign-in button; focus is on ${await focusedElement(page)}`);
  await assertFocusVisible(t, submit, unfocusedSubmit, 'the sign-in button');
  await screenshot(t, page, 'flow-keyboard-login-button-focused');

  await navigateBy(page, () => page.keyboard.press('Enter'));
  t.is(await loginForm(page).count(), 0, 'Enter on the sign-in button signed in');

  // Consent, by keyboard too: the Allow button has focus, or Tab gets there first.
  const allow = consentForm(page).locator('button[type=submit]');
  t.is(await allow.count(), 1, 'Latchkey asks for consent');
  for (let presses = 0; !(await hasFocus(allow)) && presses < 3; presses += 1) await page.keyboard.press('Tab');
  t.true(await hasFocus(allow), `the keyboard reaches Allow first; focus is on ${await focusedElement(page)}`);
  t.true(drawsARing(await focusStyle(allow)), 'the Allow button shows a focus ring');
  await screenshot(t, page, 'flow-keyboard-consent-focused');
  await navigateBy(page, () => page.keyboard.press('Enter'));

  // Landed on the app's callback with a code that redeems to this user's ID token.
  const callback = new URL(page.url());
  t.true(callback.href.startsWith(rp.redirectUri), `back on the app: ${callback.href}`);
  const tokens = await redeem(rp, callback, request);
  t.is(tokens.claims()?.sub, user.id);
  t.deepEqual(refused, [], 'the pages break no Content-Security-Policy rule');
});

test('Enter in the password field submits the login form', async (t) => {
  const [rp, user] = await Promise.all([registerRp(server, { name: 'First-party app', redirectUris: [app.callback], postLogoutRedirectUris: [app.signedOut], firstParty: true }), createTestUser(server)]);
  const context = await newContext(browser);
  t.teardown(() => context.close());
  const page = await context.newPage();
  const request = await authorizationRequest(rp);
  await page.goto(request.url.href);
  await loginForm(page).locator('#email').fill(user.email);
  await loginForm(page).locator('#password').fill(user.password);
  await loginForm(page).locator('#password').focus();
  // A first-party app skips consent: Enter alone takes the browser back to the app.
  await navigateBy(page, () => page.keyboard.press('Enter'));
  t.true(page.url().startsWith(rp.redirectUri), `back on the app: ${page.url()}`);
});
