import test, { type ExecutionContext } from 'ava';
import * as oidc from 'openid-client';
import type { CreateClientInput } from '../../src/domain/clients.js';
import { Browser } from '../helpers/browser.js';
import { advanceClock, resetClock } from '../helpers/clock.js';
import { createTestUser, redeem, registerRp, signIn, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Graceful refresh rotation: within its client's window a just-rotated refresh token works once
// more (concurrent tabs, retried requests); after it, reuse revokes the grant as before.

const OFFLINE = { scope: 'openid offline_access', prompt: 'consent' };
const GLOBAL_GRACE = 20;

let server: TestServer;
let plain: TestServer;

test.before(async () => {
  [server, plain] = await Promise.all([startTestServer({ LATCHKEY_REFRESH_REUSE_GRACE: `${GLOBAL_GRACE}s` }), startTestServer()]);
});

test.after.always(async () => {
  resetClock();
  await Promise.all([server?.dispose(), plain?.dispose()]);
});

test.afterEach.always(() => {
  resetClock();
});

async function offlineTokens(on: TestServer, settings: Partial<CreateClientInput> = {}) {
  const rp = await registerRp(on, settings);
  const user = await createTestUser(on);
  const { callback, request } = await signIn(new Browser(), rp, user, OFFLINE);
  const tokens = await redeem(rp, callback, request);
  if (!tokens.refresh_token) throw new Error('no refresh token was issued');
  return { rp, tokens, refreshToken: tokens.refresh_token };
}

async function expectInvalidGrant(t: ExecutionContext, attempt: Promise<unknown>, message: string) {
  const error = await t.throwsAsync(attempt, { instanceOf: oidc.ResponseBodyError }, message);
  t.is(error?.error, 'invalid_grant', message);
}

async function active(rp: RelyingParty, token: string): Promise<boolean> {
  return (await oidc.tokenIntrospection(rp.config, token)).active;
}

/** Every token of the grant has stopped working. */
async function assertRevoked(t: ExecutionContext, rp: RelyingParty, refreshTokens: string[], accessTokens: string[]) {
  for (const token of [...refreshTokens, ...accessTokens]) t.false(await active(rp, token), 'a token of the revoked grant still introspects active');
  for (const token of refreshTokens) await expectInvalidGrant(t, oidc.refreshTokenGrant(rp.config, token), 'a refresh token of the revoked grant still works');
}

// Serial: the tests move the process clock, which every concurrent test would feel too.
test.serial('reused just inside the client’s window, a rotated refresh token gets a fresh pair, and both new refresh tokens work', async (t) => {
  const { rp, refreshToken: first } = await offlineTokens(server, { refreshTokenReuseGrace: 10 });
  const one = await oidc.refreshTokenGrant(rp.config, first);
  advanceClock(9);
  const two = await oidc.refreshTokenGrant(rp.config, first);
  t.truthy(two.access_token);
  t.truthy(two.id_token, 'the reuse is a full refresh');
  t.not(two.refresh_token, one.refresh_token, 'each use gets its own new refresh token');
  t.not(two.refresh_token, first);
  for (const token of [one.access_token, two.access_token]) t.true(await active(rp, token));
  // Outside the token endpoint the used token is what it is: used.
  t.false(await active(rp, first));

  const fromOne = await oidc.refreshTokenGrant(rp.config, one.refresh_token!);
  const fromTwo = await oidc.refreshTokenGrant(rp.config, two.refresh_token!);
  t.truthy(fromOne.refresh_token);
  t.truthy(fromTwo.refresh_token);
  t.true(await active(rp, fromOne.refresh_token!));
  t.true(await active(rp, fromTwo.refresh_token!));
});

test.serial('reused just outside the window, a rotated refresh token revokes the grant: every token of it stops working', async (t) => {
  const { rp, tokens, refreshToken: first } = await offlineTokens(server, { refreshTokenReuseGrace: 10 });
  const one = await oidc.refreshTokenGrant(rp.config, first);
  advanceClock(11);
  await expectInvalidGrant(t, oidc.refreshTokenGrant(rp.config, first), 'a token used 11 seconds ago was accepted with a 10 second window');
  await assertRevoked(t, rp, [one.refresh_token!], [tokens.access_token, one.access_token]);
});

test.serial('the window counts from the first use: a second reuse inside it works, one after it revokes', async (t) => {
  const { rp, refreshToken: first } = await offlineTokens(server, { refreshTokenReuseGrace: 10 });
  const one = await oidc.refreshTokenGrant(rp.config, first);
  advanceClock(6);
  const two = await oidc.refreshTokenGrant(rp.config, first);
  advanceClock(6);
  await expectInvalidGrant(t, oidc.refreshTokenGrant(rp.config, first), 'reuse extended the window');
  await assertRevoked(t, rp, [one.refresh_token!, two.refresh_token!], [one.access_token, two.access_token]);
});

test.serial('several requests refreshing the same token at once all get new tokens within the window', async (t) => {
  const { rp, refreshToken } = await offlineTokens(server, { refreshTokenReuseGrace: 10 });
  const results = await Promise.all(Array.from({ length: 4 }, () => oidc.refreshTokenGrant(rp.config, refreshToken)));
  const issued = new Set(results.map((result) => result.refresh_token));
  t.is(issued.size, 4, 'each request got its own refresh token');
  for (const result of results) t.true(await active(rp, result.refresh_token!));
});

test.serial('a client’s grace of 0 turns the server default off: reuse revokes at once', async (t) => {
  const { rp, refreshToken: first } = await offlineTokens(server, { refreshTokenReuseGrace: 0 });
  const one = await oidc.refreshTokenGrant(rp.config, first);
  await expectInvalidGrant(t, oidc.refreshTokenGrant(rp.config, first), 'reuse was accepted with grace 0');
  await assertRevoked(t, rp, [one.refresh_token!], [one.access_token]);
});

test.serial('a client without its own window gets LATCHKEY_REFRESH_REUSE_GRACE', async (t) => {
  const inside = await offlineTokens(server);
  await oidc.refreshTokenGrant(inside.rp.config, inside.refreshToken);
  advanceClock(GLOBAL_GRACE - 1);
  const again = await oidc.refreshTokenGrant(inside.rp.config, inside.refreshToken);
  t.truthy(again.refresh_token);
  resetClock();

  const outside = await offlineTokens(server);
  const one = await oidc.refreshTokenGrant(outside.rp.config, outside.refreshToken);
  advanceClock(GLOBAL_GRACE + 1);
  await expectInvalidGrant(t, oidc.refreshTokenGrant(outside.rp.config, outside.refreshToken), 'reuse past the global window was accepted');
  await assertRevoked(t, outside.rp, [one.refresh_token!], [one.access_token]);
});

test.serial('by default (no window anywhere) reuse revokes the grant at once, as before', async (t) => {
  t.is(plain.config.tokens.refreshReuseGrace, 0);
  const { rp, refreshToken: first } = await offlineTokens(plain);
  const one = await oidc.refreshTokenGrant(rp.config, first);
  await expectInvalidGrant(t, oidc.refreshTokenGrant(rp.config, first), 'reuse was accepted without a window');
  await assertRevoked(t, rp, [one.refresh_token!], [one.access_token]);
});

test.serial('within the window another client still cannot use the token', async (t) => {
  const { rp, refreshToken: first } = await offlineTokens(server, { refreshTokenReuseGrace: 10 });
  const one = await oidc.refreshTokenGrant(rp.config, first);
  const other = await registerRp(server, { refreshTokenReuseGrace: 10 });
  await expectInvalidGrant(t, oidc.refreshTokenGrant(other.config, first), 'another client used the rotated token');
  t.true(await active(rp, one.refresh_token!), 'a stranger’s attempt does not revoke the owner’s grant');
});

test.serial('the window changes nothing in discovery', async (t) => {
  const documents = await Promise.all(
    [server, plain].map(async (on) => {
      const text = await (await fetch(`${on.issuer}/.well-known/openid-configuration`)).text();
      return JSON.parse(text.replaceAll(on.issuer, 'ISSUER')) as Record<string, unknown>;
    }),
  );
  t.deepEqual(documents[0], documents[1]);
  t.false(JSON.stringify(documents[0]).includes('grace'));
});
