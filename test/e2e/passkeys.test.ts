import test from 'ava';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { ACR_MULTI_FACTOR } from '../../src/domain/authentication-context.js';
import { createTestUser, redeem, registerRp, authorizationRequest, type RelyingParty, type TestUser } from '../helpers/rp.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { assertNoBlockingViolations, auditPage } from './support/axe.js';
import { cspViolations, launchBrowser, newContext, screenshot, startStubApp, type StubApp } from './support/browser.js';
import { consentForm, fillLogin, loginForm, navigateBy, openSignedIn } from './support/flows.js';

// Passkeys through the real pages and assets/passkeys.js, with Chromium's virtual
// authenticator (DevTools protocol, WebAuthn domain) standing in for the device.

let server: TestServer;
let browser: Browser;
let app: StubApp;
let rp: RelyingParty;

test.before(async () => {
  // A relying party id must be a host name, not an IP address: the issuer is on localhost.
  const port = await freePort();
  await Promise.all([
    startTestServer({ PORT: String(port), ISSUER: `http://localhost:${port}` }).then((started) => (server = started)),
    launchBrowser().then((launched) => (browser = launched)),
    startStubApp().then((started) => (app = started)),
  ]);
  rp = await registerRp(server, { name: 'Passkey app', redirectUris: [app.callback], postLogoutRedirectUris: [app.signedOut] });
});

test.after.always(async () => {
  await browser?.close();
  await server?.dispose();
  await app?.close();
});

/** A credential as the WebAuthn domain reports and takes it. */
interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  privateKey: string;
  userHandle?: string;
  signCount: number;
}

/** A platform authenticator that verifies its user (as a fingerprint would), holding `credentials`. */
async function virtualAuthenticator(page: Page, credentials: VirtualCredential[] = []): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  for (const credential of credentials) await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
  return { cdp, authenticatorId };
}

const passkeySignIn = (page: Page) => page.locator('form[action$="/passkey"]:not([action*="/mfa/"])');

/** Opens the RP's authorization request in `page`; returns the request to redeem the code with. */
async function startAtRp(page: Page) {
  const request = await authorizationRequest(rp);
  await page.goto(request.url.href);
  return request;
}

async function allowAndRedeem(page: Page, request: Awaited<ReturnType<typeof authorizationRequest>>) {
  if ((await consentForm(page).count()) === 1) await navigateBy(page, () => consentForm(page).locator('button[type=submit]').click());
  const callback = new URL(page.url());
  if (!callback.href.startsWith(rp.redirectUri)) throw new Error(`did not reach the callback: ${page.url()}\n${(await page.locator('body').innerText()).slice(0, 600)}`);
  return redeem(rp, callback, request);
}

async function freshPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newContext(browser);
  return { context, page: await context.newPage() };
}

test('a passkey added on the account page signs in on its own and as the second step, in another browser profile', async (t) => {
  const user: TestUser = await createTestUser(server);

  // 1. Add a passkey on the account page: the page's script asks the authenticator.
  const first = await freshPage();
  t.teardown(() => first.context.close());
  const refused = cspViolations(first.page);
  const device = await virtualAuthenticator(first.page);
  await openSignedIn(first.page, `${server.issuer}/account/security`, user);
  const add = first.page.locator('form[action$="/account/security/passkeys"]');
  await t.notThrowsAsync(add.waitFor({ state: 'visible' }), 'the script shows the passkey form');
  await add.locator('#passkey-name').fill('Chromium key');
  await navigateBy(first.page, () => add.locator('button[type=submit]').click());
  const main = first.page.locator('main');
  t.true((await main.innerText()).includes('Chromium key'), 'the new passkey is listed by its name');
  t.is(await first.page.locator('#codes-heading').count(), 1, 'its recovery codes are shown once');
  await screenshot(t, first.page, 'passkeys-account-added');
  const rows = await server.deps.db.knex('passkeys').where({ user_id: user.id });
  t.is(rows.length, 1);
  t.is(rows[0].name, 'Chromium key');
  const { credentials } = (await device.cdp.send('WebAuthn.getCredentials', { authenticatorId: device.authenticatorId })) as { credentials: VirtualCredential[] };
  t.is(credentials.length, 1);
  t.true(credentials[0]!.isResidentCredential, 'a discoverable credential');

  // 2. Another profile with the same authenticator: "Sign in with a passkey" on the login page.
  const second = await freshPage();
  t.teardown(() => second.context.close());
  refused.push(...cspViolations(second.page));
  await virtualAuthenticator(second.page, credentials);
  const passwordless = await startAtRp(second.page);
  await t.notThrowsAsync(passkeySignIn(second.page).waitFor({ state: 'visible' }));
  await screenshot(t, second.page, 'passkeys-login');
  await navigateBy(second.page, () => passkeySignIn(second.page).locator('button[type=submit]').click());
  const alone = (await allowAndRedeem(second.page, passwordless)).claims()!;
  t.is(alone.sub, user.id);
  t.true(['hwk', 'swk'].includes((alone.amr as string[])[0]!), `a passkey's amr (${String(alone.amr)})`);
  t.is(alone.acr, ACR_MULTI_FACTOR);

  // 3. A third profile: the password first, then the passkey as the second step.
  const third = await freshPage();
  t.teardown(() => third.context.close());
  refused.push(...cspViolations(third.page));
  const { credentials: now } = (await device.cdp.send('WebAuthn.getCredentials', { authenticatorId: device.authenticatorId })) as { credentials: VirtualCredential[] };
  // The counter the server saw last: the copy must be ahead of it, as the one device would be.
  await virtualAuthenticator(third.page, now.map((credential) => ({ ...credential, signCount: credential.signCount + 10 })));
  const twoSteps = await startAtRp(third.page);
  await fillLogin(third.page, user);
  await navigateBy(third.page, () => loginForm(third.page).locator('button[type=submit]').click());
  t.regex(new URL(third.page.url()).pathname, /\/mfa$/);
  const secondStep = third.page.locator('form[action$="/mfa/passkey"]');
  await t.notThrowsAsync(secondStep.waitFor({ state: 'visible' }));
  await screenshot(t, third.page, 'passkeys-second-factor');
  await navigateBy(third.page, () => secondStep.locator('button[type=submit]').click());
  const both = (await allowAndRedeem(third.page, twoSteps)).claims()!;
  t.is((both.amr as string[])[0], 'pwd');
  t.true((both.amr as string[]).includes('mfa'));
  t.is(both.acr, ACR_MULTI_FACTOR);

  t.deepEqual(refused, [], 'the pages break no Content-Security-Policy rule');
});

test('a cancelled passkey prompt says so on the page and the user can use the password', async (t) => {
  const { context, page } = await freshPage();
  t.teardown(() => context.close());
  // An authenticator that holds no passkey for this site: the browser's request fails as a cancel would.
  await virtualAuthenticator(page);
  await startAtRp(page);
  await passkeySignIn(page).locator('button[type=submit]').click();
  const status = passkeySignIn(page).locator('[data-passkey-status]');
  await t.notThrowsAsync(status.filter({ hasText: /cancelled|timed out|went wrong/ }).waitFor({ timeout: 30_000 }), 'the failure is announced in the live region');
  t.is(await loginForm(page).count(), 1, 'still on the login page');
});

test('without JavaScript the passkey controls stay hidden and the page says why', async (t) => {
  const context = await newContext(browser, { javaScriptEnabled: false });
  t.teardown(() => context.close());
  const page = await context.newPage();
  await startAtRp(page);
  t.false(await passkeySignIn(page).isVisible());
  t.true((await page.locator('main').innerText()).includes('Passkeys need JavaScript'));
  t.true(await loginForm(page).isVisible(), 'the password form works as ever');
});

test('the passkey pages pass axe: the security page with a passkey, the login, second-step and set-up pages', async (t) => {
  const user = await createTestUser(server);
  const reports: string[] = [];
  const audit = async (page: Page, name: string) => {
    const report = await auditPage(t, page, name);
    if (report) reports.push(report);
  };
  // axe is injected into the page: these profiles bypass the CSP, which rightly refuses it.
  const context = await newContext(browser, { bypassCSP: true });
  t.teardown(() => context.close());
  const page = await context.newPage();
  await virtualAuthenticator(page);
  await openSignedIn(page, `${server.issuer}/account/security`, user);
  const add = page.locator('form[action$="/account/security/passkeys"]');
  await add.waitFor({ state: 'visible' });
  await navigateBy(page, () => add.locator('button[type=submit]').click());
  await page.goto(`${server.issuer}/account/security`);
  await audit(page, 'passkeys-security');

  const other = await newContext(browser, { bypassCSP: true });
  t.teardown(() => other.close());
  const login = await other.newPage();
  await startAtRp(login);
  await passkeySignIn(login).waitFor({ state: 'visible' });
  await audit(login, 'passkeys-login');
  await fillLogin(login, user);
  await navigateBy(login, () => loginForm(login).locator('button[type=submit]').click());
  await login.locator('form[action$="/mfa/passkey"]').waitFor({ state: 'visible' });
  await audit(login, 'passkeys-second-factor');

  // A client that requires a second step, and a user without one: the set-up choices.
  const strict = await registerRp(server, { name: 'Strict app', redirectUris: [app.callback], requireMfa: true });
  const newcomer = await createTestUser(server);
  const third = await newContext(browser, { bypassCSP: true });
  t.teardown(() => third.close());
  const enrol = await third.newPage();
  await enrol.goto((await authorizationRequest(strict)).url.href);
  await fillLogin(enrol, newcomer);
  await navigateBy(enrol, () => loginForm(enrol).locator('button[type=submit]').click());
  await enrol.locator('form[action$="/mfa/enrol/passkey"]').waitFor({ state: 'visible' });
  await audit(enrol, 'passkeys-enrol');
  assertNoBlockingViolations(t, reports);
});
