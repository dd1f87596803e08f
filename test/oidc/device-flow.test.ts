import test from 'ava';
import * as oidc from 'openid-client';
import { Browser, findForm, openPage, submitPage, type Page } from '../helpers/browser.js';
import { advanceClock, resetClock } from '../helpers/clock.js';
import { createTestUser, discover, go, isConsentPage, isLoginPage, registerRp, submitConsent, submitLogin, type RelyingParty, type Step, type TestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

let server: TestServer;
let user: TestUser;

test.before(async () => {
  server = await startTestServer({ LATCHKEY_THROTTLE_FAILURES: '3' });
  user = await createTestUser(server);
});

test.after.always(async () => {
  resetClock();
  await server?.dispose();
});

/** A public client on a device: no redirect URI, no secret. */
async function deviceClient(): Promise<RelyingParty> {
  const rp = await registerRp(server, { name: 'Living Room TV', public: true, grantTypes: [DEVICE_GRANT, 'refresh_token'], redirectUris: [], postLogoutRedirectUris: [] });
  return { ...rp, config: await discover(server, rp.clientId, undefined, 'none') };
}

/** Submits the confirmation page's form with `choice` (confirm or abort), following where it leads. */
async function answerConfirmation(browser: Browser, rp: RelyingParty, confirm: Page, choice: 'confirm' | 'abort'): Promise<Step> {
  const form = findForm(confirm.html, '/device');
  const response = await browser.post(new URL(form.action, confirm.url), { ...form.fields, [choice]: 'yes' });
  const location = response.headers.get('location');
  if (location) return go(browser, rp, new URL(location, confirm.url));
  return { url: confirm.url, response, html: await response.text() };
}

/** The browser half: the /device page, the code (typed loosely), the confirmation, sign-in and consent. */
async function approveOnPhone(browser: Browser, rp: RelyingParty, userCode: string): Promise<Step> {
  const entry = await openPage(browser, '/device', server.issuer);
  const confirm = await submitPage(browser, entry, '/device', { user_code: userCode.toLowerCase().replace('-', ' ') });
  if (confirm.status !== 200) throw new Error(`the code page answered ${confirm.status}:\n${confirm.html}`);
  let step = await answerConfirmation(browser, rp, confirm, 'confirm');
  if (isLoginPage(step)) step = await submitLogin(browser, rp, step, user);
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  return step;
}

test.serial('a device signs in: code on the device, /device on a phone, sign-in, consent, "return to your device", tokens', async (t) => {
  const rp = await deviceClient();
  const device = await oidc.initiateDeviceAuthorization(rp.config, { scope: 'openid offline_access' });
  t.regex(device.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  t.is(device.verification_uri, `${server.issuer}/device`);
  const browser = new Browser();
  const entry = await openPage(browser, '/device', server.issuer);
  t.is(entry.status, 200);
  t.regex(entry.html, /<label for="user_code">Code<\/label>/);
  const done = await approveOnPhone(browser, rp, device.user_code);
  t.is(done.response.status, 200, done.html.match(/<main[\s\S]*<\/main>/)?.[0]);
  t.true(done.html.includes('You can return to your device'), done.html);
  t.true(done.html.includes('Living Room TV'));

  const tokens = await oidc.pollDeviceAuthorizationGrant(rp.config, device);
  t.is(tokens.claims()!.sub, user.id);
  t.truthy(tokens.refresh_token);
});

test.serial('an expired device code ends the polling with expired_token', async (t) => {
  const rp = await deviceClient();
  const device = await oidc.initiateDeviceAuthorization(rp.config, { scope: 'openid' });
  advanceClock(device.expires_in + 1);
  // The page says it expired, rather than that it is wrong.
  const browser = new Browser();
  const entry = await openPage(browser, '/device', server.issuer);
  const expired = await submitPage(browser, entry, '/device', { user_code: device.user_code });
  t.is(expired.status, 400);
  t.true(expired.html.includes('That code has expired.'));
  const error = await t.throwsAsync(oidc.pollDeviceAuthorizationGrant(rp.config, device));
  t.is((error as { error?: string }).error, 'expired_token');
  resetClock();
});

test.serial('cancelling on the confirmation page ends the polling with access_denied', async (t) => {
  const rp = await deviceClient();
  const device = await oidc.initiateDeviceAuthorization(rp.config, { scope: 'openid' });
  const browser = new Browser();
  const entry = await openPage(browser, '/device', server.issuer);
  const confirm = await submitPage(browser, entry, '/device', { user_code: device.user_code });
  const cancelled = await answerConfirmation(browser, rp, confirm, 'abort');
  t.true(cancelled.html.includes('The sign-in was cancelled.'));
  const error = await t.throwsAsync(oidc.pollDeviceAuthorizationGrant(rp.config, device));
  t.is((error as { error?: string }).error, 'access_denied');
});

// Last: the throttle it trips holds for every test here, which all come from 127.0.0.1.
test.serial('a wrong code is refused with a readable message, and guessing is throttled', async (t) => {
  const browser = new Browser();
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const entry = await openPage(browser, '/device', server.issuer);
    const wrong = await submitPage(browser, entry, '/device', { user_code: 'BCDF-GHJK' });
    t.is(wrong.status, 400);
    t.true(wrong.html.includes('That code is not right.'));
  }
  const entry = await openPage(browser, '/device', server.issuer);
  const throttled = await submitPage(browser, entry, '/device', { user_code: 'BCDF-GHJL' });
  t.is(throttled.status, 429);
  t.true(throttled.html.includes('Too many wrong codes'));
  // The provider's router ignores case and a trailing slash; the throttle does too.
  const form = findForm(entry.html, '/device');
  for (const path of ['/DEVICE', '/device/']) {
    const sideDoor = await browser.post(new URL(path, server.issuer), { ...form.fields, user_code: 'BCDF-GHJM' });
    t.is(sideDoor.status, 429, path);
    await sideDoor.body?.cancel();
  }
});
