import test from 'ava';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { authorizationRequest, createTestUser, go, isConsentPage, isLoginPage, redeem, registerRp, signIn } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

const OFFLINE = { scope: 'openid profile email offline_access', prompt: 'consent' };

async function publishedKids(): Promise<string[]> {
  const response = await fetch(`${server.issuer}/jwks`);
  const { keys } = (await response.json()) as { keys: { kid: string }[] };
  return keys.map((key) => key.kid).sort();
}

// Serial throughout: the restart replaces `server` for every test after it.
test.serial('tokens, keys and sessions issued before a restart still work after it', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const browser = new Browser();
  const { callback, request } = await signIn(browser, rp, user, OFFLINE);
  const tokens = await redeem(rp, callback, request);
  const kidsBefore = await publishedKids();

  server = await server.restart();

  t.deepEqual(await publishedKids(), kidsBefore);
  // As a relying party that cached nothing would: keys fetched now, from the restarted server.
  const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), {
    issuer: server.issuer,
    audience: rp.clientId,
  });
  t.is(payload.sub, user.id);

  const introspected = await oidc.tokenIntrospection(rp.config, tokens.access_token);
  t.true(introspected.active);
  t.is(introspected.sub, user.id);
  t.is((await oidc.fetchUserInfo(rp.config, tokens.access_token, user.id)).email, user.email);

  const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
  t.truthy(refreshed.refresh_token);
  t.is(refreshed.claims()?.sub, user.id);

  // The signed session cookie still checks out (cookie keys persisted): no login page again.
  const again = await authorizationRequest(rp);
  const step = await go(browser, rp, again.url);
  t.false(isLoginPage(step));
  t.false(isConsentPage(step));
  t.true(step.url.href.startsWith(rp.redirectUri));
  t.truthy(step.url.searchParams.get('code'));
});

test.serial('a dump of the token table holds no usable token, code or session id, yet every one of them works', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const browser = new Browser();
  const { callback, request } = await signIn(browser, rp, user, OFFLINE);
  const code = callback.searchParams.get('code')!;
  const first = await redeem(rp, callback, request);
  const rotated = await oidc.refreshTokenGrant(rp.config, first.refresh_token!);
  const machine = await registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [] });
  const machineToken = await oidc.clientCredentialsGrant(machine.config);

  // An interaction started while signed in: oidc-provider copies the session id into it.
  const pending = await go(browser, rp, (await authorizationRequest(rp, { prompt: 'login' })).url);
  t.true(isLoginPage(pending));

  const secrets: Record<string, string> = {
    code,
    'first access token': first.access_token,
    'first refresh token': first.refresh_token!,
    'rotated access token': rotated.access_token,
    'rotated refresh token': rotated.refresh_token!,
    'client credentials token': machineToken.access_token,
  };
  for (const [name, value] of browser.cookieNames().map((name, index) => [name, browser.cookieValues()[index]!] as const)) {
    // An interaction's cookie holds its uid, which every sign-in page shows in its URL anyway.
    if (name.startsWith('_interaction')) continue;
    secrets[`cookie ${name}`] = value;
  }
  t.truthy(Object.keys(secrets).find((name) => name.startsWith('cookie _session')), 'the browser holds no session cookie');

  const rows = (await server.deps.db.knex('oidc_payloads').select('*')) as Record<string, unknown>[];
  t.true(rows.length >= 6);
  const dump = rows.map((row) => JSON.stringify(row)).join('\n');
  for (const [name, value] of Object.entries(secrets)) {
    t.true(value.length >= 16, `${name} is too short to search for`);
    t.false(dump.includes(value), `the dump contains the ${name}`);
  }

  // The adapter still finds each live one by its value.
  t.true((await oidc.tokenIntrospection(rp.config, rotated.access_token)).active);
  t.true((await oidc.tokenIntrospection(rp.config, rotated.refresh_token!)).active);
  t.true((await oidc.tokenIntrospection(machine.config, machineToken.access_token)).active);
  t.is((await oidc.fetchUserInfo(rp.config, rotated.access_token, user.id)).sub, user.id);
  const again = await go(browser, rp, (await authorizationRequest(rp)).url);
  t.true(again.url.href.startsWith(rp.redirectUri), 'the session cookie no longer finds its session');
});
