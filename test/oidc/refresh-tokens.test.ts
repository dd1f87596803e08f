import test, { type ExecutionContext } from 'ava';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { advanceClock, resetClock } from '../helpers/clock.js';
import {
  authorizationRequest,
  createTestUser,
  go,
  isConsentPage,
  isLoginPage,
  redeem,
  registerRp,
  signIn,
  submitConsent,
  submitLogin,
  type RelyingParty,
} from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const REFRESH_TTL = 3600;
const OFFLINE = { scope: 'openid offline_access', prompt: 'consent' };

let server: TestServer;

test.before(async () => {
  // A short absolute lifetime keeps the clock arithmetic readable.
  server = await startTestServer({ LATCHKEY_REFRESH_TOKEN_TTL: '1h' });
});

test.after.always(async () => {
  resetClock();
  await server?.dispose();
});

async function offlineTokens(rp: RelyingParty) {
  const user = await createTestUser(server);
  const { callback, request } = await signIn(new Browser(), rp, user, OFFLINE);
  const tokens = await redeem(rp, callback, request);
  if (!tokens.refresh_token) throw new Error('no refresh token was issued');
  return { user, tokens, refreshToken: tokens.refresh_token };
}

async function expectInvalidGrant(t: ExecutionContext, attempt: Promise<unknown>, message: string) {
  const error = await t.throwsAsync(attempt, { instanceOf: oidc.ResponseBodyError }, message);
  t.is(error?.error, 'invalid_grant', message);
  t.is(error?.status, 400, message);
}

// Serial: it moves the process clock, which every concurrent test would feel too.
test.serial('a rotated refresh token keeps the absolute expiry of the one it replaced', async (t) => {
  const rp = await registerRp(server);
  const { refreshToken: first } = await offlineTokens(rp);
  const original = await oidc.tokenIntrospection(rp.config, first);
  t.true(original.active);
  const expiry = original.exp!;
  t.is(expiry - original.iat!, REFRESH_TTL);
  try {
    advanceClock(REFRESH_TTL - 120);
    const rotated = await oidc.refreshTokenGrant(rp.config, first);
    const second = rotated.refresh_token!;
    t.truthy(second);
    const details = await oidc.tokenIntrospection(rp.config, second);
    t.true(details.active);
    t.is(details.exp, expiry, 'rotation must not extend the lifetime');
    t.true(details.iat! >= expiry - 120 - 5, 'the rotated token was issued just now');

    advanceClock(180);
    await expectInvalidGrant(t, oidc.refreshTokenGrant(rp.config, second), 'a token past the original expiry still refreshed');
    t.false((await oidc.tokenIntrospection(rp.config, second)).active);
  } finally {
    resetClock();
  }
});

test('asking for offline_access with prompt=consent shows it on the consent page and yields a refresh token', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const browser = new Browser();
  const request = await authorizationRequest(rp, OFFLINE);
  let step = await go(browser, rp, request.url);
  t.true(isLoginPage(step));
  step = await submitLogin(browser, rp, step, user);
  t.true(isConsentPage(step));
  t.true(step.html.includes('Stay connected while you are away'));
  step = await submitConsent(browser, rp, step);
  const tokens = await redeem(rp, step.url, request);
  t.is(typeof tokens.refresh_token, 'string');
  t.true(tokens.refresh_token!.length >= 32);
  t.true(tokens.scope?.split(' ').includes('offline_access'));
});

test('without offline_access no refresh token is issued', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const { callback, request } = await signIn(new Browser(), rp, user, { scope: 'openid profile' });
  const tokens = await redeem(rp, callback, request);
  t.truthy(tokens.access_token);
  t.is(tokens.refresh_token, undefined);
});

test('every refresh rotates the refresh token and the old one stops working', async (t) => {
  const rp = await registerRp(server);
  const { user, refreshToken: first } = await offlineTokens(rp);
  const second = await oidc.refreshTokenGrant(rp.config, first);
  t.truthy(second.refresh_token);
  t.not(second.refresh_token, first);
  const third = await oidc.refreshTokenGrant(rp.config, second.refresh_token!);
  t.truthy(third.refresh_token);
  t.not(third.refresh_token, second.refresh_token);
  t.not(third.refresh_token, first);
  t.is(third.claims()?.sub, user.id);
  t.false((await oidc.tokenIntrospection(rp.config, first)).active);
  t.false((await oidc.tokenIntrospection(rp.config, second.refresh_token!)).active);
  t.true((await oidc.tokenIntrospection(rp.config, third.refresh_token!)).active);
});

test('a reused refresh token is refused and revokes the whole grant', async (t) => {
  const rp = await registerRp(server);
  const { refreshToken: first } = await offlineTokens(rp);
  const rotated = await oidc.refreshTokenGrant(rp.config, first);
  const newest = rotated.refresh_token!;
  t.true((await oidc.tokenIntrospection(rp.config, rotated.access_token)).active);

  await expectInvalidGrant(t, oidc.refreshTokenGrant(rp.config, first), 'the rotated-away token was accepted again');

  // Whoever replayed it may hold the newest token too, so everything from that grant goes.
  t.false((await oidc.tokenIntrospection(rp.config, newest)).active);
  t.false((await oidc.tokenIntrospection(rp.config, rotated.access_token)).active);
  await expectInvalidGrant(t, oidc.refreshTokenGrant(rp.config, newest), 'the newest token survived the reuse');
});

test('of several requests refreshing the same token at once, exactly one gets new tokens', async (t) => {
  const rp = await registerRp(server);
  const { refreshToken } = await offlineTokens(rp);
  // Sent together, so the server reads the token as unused for each and they race to consume it
  // (in one batched statement or in several).
  const attempts = await Promise.allSettled(Array.from({ length: 6 }, () => oidc.refreshTokenGrant(rp.config, refreshToken)));
  const winners = attempts.filter((attempt) => attempt.status === 'fulfilled');
  t.is(winners.length, 1);
  for (const attempt of attempts) {
    if (attempt.status === 'rejected') t.is((attempt.reason as oidc.ResponseBodyError).error, 'invalid_grant');
  }
});

test('a refresh token only works for the client it was issued to', async (t) => {
  const rp = await registerRp(server);
  const other = await registerRp(server);
  const { refreshToken } = await offlineTokens(rp);
  await expectInvalidGrant(t, oidc.refreshTokenGrant(other.config, refreshToken), 'another client redeemed the refresh token');
  t.true((await oidc.tokenIntrospection(rp.config, refreshToken)).active);
});
