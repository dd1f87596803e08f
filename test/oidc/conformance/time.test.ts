/**
 * The Basic OP modules that need time to pass between two steps (the suite waits; these tests
 * move the clock). Every test here is serial and puts the clock back when it ends, so none of
 * them sees another's time.
 */
import test from 'ava';
import * as oidc from 'openid-client';
import { Browser } from '../../helpers/browser.js';
import { advanceClock, resetClock } from '../../helpers/clock.js';
import { endpoint, entropyBits, idTokenClaims, redeemAgain } from '../../helpers/conformance.js';
import {
  authorizationRequest,
  createTestUser,
  go,
  isConsentPage,
  isLoginPage,
  postWithBasic,
  redeem,
  registerRp,
  signIn,
  submitConsent,
  submitLogin,
} from '../../helpers/rp.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.afterEach.always(() => {
  resetClock();
});

test.after.always(async () => {
  resetClock();
  await server?.dispose();
});

/** Asks for auth_time in the first ID token too, so the second can be compared with it. */
const WITH_AUTH_TIME = { claims: JSON.stringify({ id_token: { auth_time: { essential: true } } }) };

const nowSeconds = () => Math.floor(Date.now() / 1000);

test.serial('oidcc-prompt-login: prompt=login shows the login page again despite the session, and auth_time moves to the new sign-in', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const browser = new Browser();
  const first = await signIn(browser, rp, user, WITH_AUTH_TIME);
  const firstAuthTime = idTokenClaims((await redeem(rp, first.callback, first.request)).id_token).auth_time;
  t.is(typeof firstAuthTime, 'number');

  advanceClock(2);
  const request = await authorizationRequest(rp, { prompt: 'login' });
  const page = await go(browser, rp, request.url);
  t.true(isLoginPage(page), 'the signed-in user is asked to sign in again');
  let step = await submitLogin(browser, rp, page, user);
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  t.true(step.url.href.startsWith(rp.redirectUri));
  const second = idTokenClaims((await redeem(rp, step.url, request)).id_token);
  t.is(second.sub, user.id);
  t.true(second.auth_time! > firstAuthTime!, `auth_time ${second.auth_time} is later than ${firstAuthTime}`);
  t.true(Math.abs(second.auth_time! - nowSeconds()) <= 5);
});

test.serial('oidcc-max-age-1: once more than a second has passed, max_age=1 makes the user sign in again and auth_time is the new sign-in', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const browser = new Browser();
  const first = await signIn(browser, rp, user, WITH_AUTH_TIME);
  const firstAuthTime = idTokenClaims((await redeem(rp, first.callback, first.request)).id_token).auth_time!;

  advanceClock(2);
  const request = await authorizationRequest(rp, { max_age: '1' });
  const page = await go(browser, rp, request.url);
  t.true(isLoginPage(page), 'the session is older than max_age');
  let step = await submitLogin(browser, rp, page, user);
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  const second = idTokenClaims((await redeem(rp, step.url, request)).id_token);
  t.is(typeof second.auth_time, 'number', 'max_age makes auth_time required (OIDC Core §3.1.2.1)');
  t.true(second.auth_time! > firstAuthTime);
  t.true(Math.abs(second.auth_time! - nowSeconds()) <= 5, 'auth_time is recent');
});

test.serial('oidcc-max-age-10000: max_age=10000 within the session signs in silently and keeps the original auth_time', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const browser = new Browser();
  const first = await signIn(browser, rp, user, { max_age: '15000' });
  const firstClaims = idTokenClaims((await redeem(rp, first.callback, first.request)).id_token);
  t.is(typeof firstClaims.auth_time, 'number');

  // Time passes (well within max_age) so a server that re-stamped auth_time would show it.
  advanceClock(5);
  const request = await authorizationRequest(rp, { max_age: '10000' });
  const step = await go(browser, rp, request.url);
  t.true(step.url.href.startsWith(rp.redirectUri), `a page was shown: ${step.response.status}`);
  const second = idTokenClaims((await redeem(rp, step.url, request)).id_token);
  t.is(second.auth_time, firstClaims.auth_time);
  t.is(second.sub, firstClaims.sub);
});

test.serial('oidcc-codereuse-30seconds: a code redeemed again 30 seconds later is refused and the access token it issued stops working', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const { callback, request } = await signIn(new Browser(), rp, user);
  const tokens = await redeem(rp, callback, request);

  advanceClock(30);
  // Still within the code's lifetime, so the refusal is for reuse, not expiry.
  t.is((await oidc.fetchUserInfo(rp.config, tokens.access_token, user.id)).sub, user.id);
  const reuse = await redeemAgain(rp, callback, request);
  t.is(reuse.status, 400);
  t.regex(reuse.headers.get('content-type') ?? '', /^application\/json/);
  t.is(((await reuse.json()) as { error: string }).error, 'invalid_grant');

  // RFC 6749 §4.1.2: tokens issued from the reused code should be revoked.
  const userinfo = await fetch(endpoint(rp, 'userinfo_endpoint'), { headers: { authorization: `Bearer ${tokens.access_token}` } });
  t.is(userinfo.status, 401);
  await userinfo.body?.cancel();
  const introspection = await postWithBasic(endpoint(rp, 'introspection_endpoint'), rp, { token: tokens.access_token });
  t.deepEqual(await introspection.json(), { active: false });
});

test.serial('oidcc-refresh-token: offline_access with prompt=consent yields a refresh token that works, its ID token keeps the subject, and it is bound to its client', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const otherRp = await registerRp(server);
  const browser = new Browser();
  const offline = { scope: 'openid offline_access', prompt: 'consent' };

  const { callback, request } = await signIn(browser, rp, user, offline);
  const first = await redeem(rp, callback, request);
  const refreshToken = first.refresh_token;
  t.truthy(refreshToken);
  t.regex(refreshToken!, /^[\x20-\x7E]+$/, 'RFC 6749 A.17 characters only');

  // The suite waits a second so the new ID token's iat must differ.
  advanceClock(1);
  const refreshed = await oidc.refreshTokenGrant(rp.config, refreshToken!, { scope: 'openid offline_access' });
  t.is(refreshed.token_type.toLowerCase(), 'bearer');
  t.not(refreshed.access_token, first.access_token);
  t.true(entropyBits(refreshed.access_token) > 96);
  t.true(typeof refreshed.expires_in === 'number' && refreshed.expires_in > 0);
  t.is((await oidc.fetchUserInfo(rp.config, refreshed.access_token, user.id)).sub, user.id);

  // OIDC Core §12.2: same iss, sub, aud, azp and auth_time; a new iat.
  const before = idTokenClaims(first.id_token);
  const after = idTokenClaims(refreshed.id_token);
  t.is(after.iss, before.iss);
  t.is(after.sub, user.id);
  t.is(after.sub, before.sub);
  t.deepEqual(after.aud, before.aud);
  t.is(after.azp, before.azp);
  if (after.auth_time !== undefined) t.is<number | undefined, number | undefined>(after.auth_time, before.auth_time);
  t.not(after.iat, before.iat);

  // Client 2's refresh token is useless to client 1.
  const other = await signIn(browser, otherRp, user, offline);
  const otherTokens = await redeem(otherRp, other.callback, other.request);
  t.truthy(otherTokens.refresh_token);
  const stolen = await postWithBasic(endpoint(rp, 'token_endpoint'), rp, {
    grant_type: 'refresh_token',
    refresh_token: otherTokens.refresh_token!,
    scope: 'openid offline_access',
  });
  t.is(stolen.status, 400);
  t.regex(stolen.headers.get('content-type') ?? '', /^application\/json/);
  t.is(((await stolen.json()) as { error: string }).error, 'invalid_grant');
  // And it still works for the client it was issued to.
  t.truthy((await oidc.refreshTokenGrant(otherRp.config, otherTokens.refresh_token!)).access_token);
});
