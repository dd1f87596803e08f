import test from 'ava';
import { factorsOf } from '../../src/domain/factors/summary.js';
import { Browser, openPage } from '../helpers/browser.js';
import { advanceClock, resetClock } from '../helpers/clock.js';
import { afterPassword, enrolTotp, idTokenClaims, postForm, secretOnPage, toCallback, totpCode } from '../helpers/factors.js';
import { authorizationRequest, createTestUser, go, isLoginPage, registerRp, submitLogin, type RelyingParty, type TestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Step-up: a request (acr_values) or a client (require_mfa) that needs two factors gets them,
// from a session that has one, or from a user who has none yet (who sets one up on the spot).
// Each TOTP code here comes from a fresh 30-second step: the clock moves on before each, so
// a code is never refused as a replay of the one before. The clock is shared, so tests run serially.

const MFA = 'urn:latchkey:acr:mfa';
const SINGLE = 'urn:latchkey:acr:single-factor';
const PAPE_MFA = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor';

let server: TestServer;
let rp: RelyingParty;

test.before(async () => {
  server = await startTestServer();
  rp = await registerRp(server);
});

test.afterEach.always(() => {
  resetClock();
});

test.after.always(async () => {
  await server?.dispose();
});

/** The app's code in the next 30-second step. */
async function nextCode(secret: string): Promise<string> {
  advanceClock(30);
  return totpCode(secret);
}

const sorted = (amr: unknown) => [...(amr as string[])].sort();

/** A browser signed in to `rp` with the password alone (the user had no factor then), then given an authenticator app. */
async function singleFactorSession(): Promise<{ browser: Browser; user: TestUser; secret: string }> {
  const user = await createTestUser(server);
  const browser = new Browser();
  const { request, step } = await afterPassword(browser, rp, user);
  const claims = await idTokenClaims(rp, await toCallback(browser, rp, step), request);
  if (claims.acr !== SINGLE) throw new Error(`expected a single-factor sign-in, got ${String(claims.acr)}`);
  const { secret } = await enrolTotp(server, user);
  return { browser, user, secret };
}

/** Opens a new authorization request in `browser`: where it lands, without typing anything. */
async function authorize(browser: Browser, client: RelyingParty, params: Record<string, string>) {
  const request = await authorizationRequest(client, params);
  return { request, step: await go(browser, client, request.url) };
}

for (const [name, acrValues] of [
  ['acr_values=urn:latchkey:acr:mfa', MFA],
  ['the PAPE multi-factor policy', PAPE_MFA],
] as const) {
  test.serial(`a session with one factor and a request with ${name}: straight to the code, no password, and the acr asked for`, async (t) => {
    const { browser, secret } = await singleFactorSession();
    const { request, step } = await authorize(browser, rp, { acr_values: acrValues });
    t.is(step.response.status, 200);
    t.regex(step.url.pathname, /^\/interaction\/[^/]+\/mfa$/, 'the password the session proved is not asked again');
    t.false(isLoginPage(step));

    const callback = await toCallback(browser, rp, await postForm(browser, rp, step, '/mfa/totp', { code: await nextCode(secret) }));
    const claims = await idTokenClaims(rp, callback, request);
    t.is(claims.acr, acrValues, 'the level is named as the request named it');
    t.deepEqual(sorted(claims.amr), ['mfa', 'otp', 'pwd']);

    // Now the session has two factors: the next request for them goes through untouched.
    const again = await authorize(browser, rp, { acr_values: acrValues });
    t.true(again.step.url.href.startsWith(rp.redirectUri));
  });
}

test.serial('acr_values that also accept one factor do not force a second', async (t) => {
  const { browser } = await singleFactorSession();
  const { request, step } = await authorize(browser, rp, { acr_values: `${MFA} ${SINGLE}` });
  t.true(step.url.href.startsWith(rp.redirectUri), `stopped at ${step.url.href}`);
  const claims = await idTokenClaims(rp, step, request);
  t.is(claims.acr, SINGLE);
  t.deepEqual(claims.amr, ['pwd']);
});

test.serial('a client registered with require_mfa steps up a single-factor session', async (t) => {
  const strict = await registerRp(server, { requireMfa: true });
  const { browser, secret } = await singleFactorSession();
  const { request, step } = await authorize(browser, strict, {});
  t.regex(step.url.pathname, /\/mfa$/);
  const callback = await toCallback(browser, strict, await postForm(browser, strict, step, '/mfa/totp', { code: await nextCode(secret) }));
  const claims = await idTokenClaims(strict, callback, request);
  t.is(claims.acr, MFA);
  t.deepEqual(sorted(claims.amr), ['mfa', 'otp', 'pwd']);
});

test.serial('a user with no factor, under require_mfa, sets up an authenticator app inside the sign-in, sees the recovery codes once, and arrives with acr mfa', async (t) => {
  const strict = await registerRp(server, { requireMfa: true });
  const user = await createTestUser(server);
  const browser = new Browser();
  const { request, step } = await afterPassword(browser, strict, user);
  t.regex(step.url.pathname, /^\/interaction\/[^/]+\/mfa\/enrol$/);
  t.regex(step.html, /href="\/interaction\/[^/]+\/mfa\/enrol\/totp"/);

  const setup = await openPage(browser, new URL(`${step.url.pathname}/totp`, step.url));
  t.is(setup.status, 200);
  t.regex(setup.html, /<svg\b/);
  const secret = secretOnPage(setup.html);

  const wrong = await postForm(browser, strict, setup, '/mfa/enrol/totp', { code: await totpCode(secret, Math.floor(Date.now() / 1000) - 3600) });
  t.is(wrong.response.status, 400);
  t.false((await factorsOf(server.deps, user.id)).totp);

  const codesPage = await postForm(browser, strict, setup, '/mfa/enrol/totp', { code: await totpCode(secret) });
  t.is(codesPage.response.status, 200);
  const codes = [...codesPage.html.matchAll(/<li><code>([0-9A-Z-]{19})<\/code><\/li>/g)].map((match) => match[1]);
  t.is(codes.length, 10);
  t.deepEqual(await factorsOf(server.deps, user.id), { totp: true, passkeys: 0, recoveryCodesLeft: 10 });

  const callback = await toCallback(browser, strict, await postForm(browser, strict, codesPage, '/mfa/continue'));
  const claims = await idTokenClaims(strict, callback, request);
  t.is(claims.acr, MFA);
  t.deepEqual(sorted(claims.amr), ['mfa', 'otp', 'pwd']);
});

for (const [name, params] of [
  ['prompt=login', { prompt: 'login' }],
  ['max_age=0', { max_age: '0' }],
] as const) {
  test.serial(`${name} asks for the password and the code again`, async (t) => {
    const user = await createTestUser(server);
    const { secret } = await enrolTotp(server, user);
    const browser = new Browser();
    const first = await afterPassword(browser, rp, user);
    await toCallback(browser, rp, await postForm(browser, rp, first.step, '/mfa/totp', { code: await nextCode(secret) }));

    const { request, step } = await authorize(browser, rp, params);
    t.true(isLoginPage(step), 'the password again');
    const codePage = await submitLogin(browser, rp, step, user);
    t.regex(codePage.url.pathname, /\/mfa$/, 'and the code again');
    const callback = await toCallback(browser, rp, await postForm(browser, rp, codePage, '/mfa/totp', { code: await nextCode(secret) }));
    const claims = await idTokenClaims(rp, callback, request);
    t.is(claims.acr, MFA);
    t.deepEqual(sorted(claims.amr), ['mfa', 'otp', 'pwd']);
  });
}

test.serial('a second factor more than 10 minutes after the password ends on the expired page', async (t) => {
  const user = await createTestUser(server);
  const { secret } = await enrolTotp(server, user);
  const browser = new Browser();
  const { step } = await afterPassword(browser, rp, user);
  t.regex(step.url.pathname, /\/mfa$/);
  advanceClock(11 * 60);
  const late = await postForm(browser, rp, step, '/mfa/totp', { code: await totpCode(secret) });
  t.is(late.response.status, 400);
  t.regex(late.html, /expired/);
  t.false(late.url.href.startsWith(rp.redirectUri));
});

test.serial('prompt=none cannot step up: a single-factor session asked for mfa answers login_required', async (t) => {
  const { browser } = await singleFactorSession();
  const { step } = await authorize(browser, rp, { acr_values: MFA, prompt: 'none' });
  t.true(step.url.href.startsWith(rp.redirectUri), `stopped at ${step.url.href}`);
  t.is(step.url.searchParams.get('error'), 'login_required');
});

test.serial('an essential acr claim in the claims parameter needs two factors like acr_values: a user without one sets one up', async (t) => {
  const user = await createTestUser(server);
  const browser = new Browser();
  const claimsParameter = JSON.stringify({ id_token: { acr: { essential: true, values: [MFA] } } });
  const { step } = await afterPassword(browser, rp, user, { claims: claimsParameter });
  t.regex(step.url.pathname, /\/mfa\/enrol$/);
});

test.serial('an essential acr claim steps up a single-factor session like acr_values: the code only', async (t) => {
  const { browser, secret } = await singleFactorSession();
  const claimsParameter = JSON.stringify({ id_token: { acr: { essential: true, value: MFA } } });
  const { request, step } = await authorize(browser, rp, { claims: claimsParameter });
  t.regex(step.url.pathname, /\/mfa$/, 'the password the session proved is not asked again');
  const callback = await toCallback(browser, rp, await postForm(browser, rp, step, '/mfa/totp', { code: await nextCode(secret) }));
  const claims = await idTokenClaims(rp, callback, request);
  t.is(claims.acr, MFA);
  t.deepEqual(sorted(claims.amr), ['mfa', 'otp', 'pwd']);
});
