import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import test from 'ava';
import * as oidc from 'openid-client';
import { adminClientToken, adminFetch } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { authorizationRequest, createTestUser, go, isConsentPage, POST_LOGOUT_URI, postWithBasic, redeem, registerRp, submitConsent, submitLogin } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Everything the server logs, as the operator's log collector would receive it. */
let logged = '';
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logged += chunk.toString('utf8');
    done();
  },
});

let server: TestServer;

test.before(async () => {
  server = await startTestServer({ LATCHKEY_LOG_LEVEL: 'trace', LATCHKEY_ENV: 'test' }, undefined, { logDestination: capture });
});

test.after.always(async () => {
  await server?.dispose();
});

test('a full flow with failures, logged at trace level, logs none of the secrets it used', async (t) => {
  const secrets = new Map<string, string>();
  const keep = (what: string, value: string | undefined) => {
    if (!value) throw new Error(`the flow produced no ${what}`);
    secrets.set(what, value);
  };
  const browser = new Browser();
  // Cookie values are random identifiers and signatures; collect every one the browser was given.
  const cookies = new Set<string>();
  const collectCookies = () => browser.cookieValues().forEach((value) => cookies.add(value));

  const user = await createTestUser(server);
  keep('password', user.password);
  const rp = await registerRp(server);
  keep('client secret', rp.clientSecret);

  // A wrong password first, then the right one, consent, and the code for tokens.
  const wrongPassword = `wrong-${randomBytes(8).toString('hex')}`;
  keep('wrong password', wrongPassword);
  const request = await authorizationRequest(rp, { scope: 'openid email offline_access', prompt: 'consent' });
  const login = await go(browser, rp, request.url);
  collectCookies();
  const refused = await submitLogin(browser, rp, login, { email: user.email, password: wrongPassword });
  t.is(refused.response.status, 401);
  let step = await submitLogin(browser, rp, login, user);
  collectCookies();
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  collectCookies();
  keep('authorization code', step.url.searchParams.get('code') ?? undefined);
  keep('PKCE verifier', request.codeVerifier);
  const tokens = await redeem(rp, step.url, request);
  keep('access token', tokens.access_token);
  keep('refresh token', tokens.refresh_token);
  keep('ID token', tokens.id_token);

  const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
  keep('refreshed access token', refreshed.access_token);
  keep('rotated refresh token', refreshed.refresh_token);
  t.true((await oidc.tokenIntrospection(rp.config, refreshed.access_token)).active);
  await oidc.tokenRevocation(rp.config, refreshed.refresh_token!);

  // The code again (already used) and a wrong client secret at the token endpoint.
  const replayed = await postWithBasic(`${server.issuer}/token`, rp, { grant_type: 'authorization_code', code: secrets.get('authorization code')!, redirect_uri: rp.redirectUri });
  t.is(replayed.status, 400);
  const wrongSecret = `wrong-${randomBytes(16).toString('base64url')}`;
  keep('wrong client secret', wrongSecret);
  const badClient = await postWithBasic(`${server.issuer}/token`, { clientId: rp.clientId, clientSecret: wrongSecret }, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
  t.is(badClient.status, 401);

  // The admin API with a bearer token: a client with a secret, and a user's new password.
  const admin = await adminClientToken(server);
  keep('admin client secret', admin.rp.clientSecret);
  keep('admin access token', admin.token);
  t.is((await adminFetch(server, admin.token, '/users')).status, 200);
  const created = await adminFetch(server, admin.token, '/clients', { method: 'POST', body: { client_name: 'Logged app', redirect_uris: ['https://logged.example/cb'] } });
  t.is(created.status, 201);
  keep('created client secret', created.body!.client_secret as string);
  const newPassword = `new-${randomBytes(8).toString('hex')}`;
  keep('new password', newPassword);
  t.is((await adminFetch(server, admin.token, `/users/${user.id}/password`, { method: 'PUT', body: { password: newPassword } })).status, 200);
  t.is((await adminFetch(server, 'not-a-token', '/users')).status, 401);

  // Logout names the ID token in its query string.
  const logout = new URL(`${server.issuer}/session/end`);
  logout.searchParams.set('id_token_hint', tokens.id_token!);
  logout.searchParams.set('post_logout_redirect_uri', POST_LOGOUT_URI);
  t.is((await browser.request(logout)).status, 200);
  collectCookies();

  t.true(cookies.size >= 4, `the browser was given cookies: ${[...browser.cookieNames()].join(', ')}`);
  for (const [index, value] of [...cookies].entries()) {
    // Short values (flags, counters) are no secret, and would match by chance.
    if (value.length >= 16) secrets.set(`cookie #${index + 1}`, value);
  }

  // The capture works and trace-level detail was written (provider rejections, tokens issued).
  t.true(logged.includes('"level":20'), 'debug lines were logged');
  t.true(logged.includes('token issued'));
  t.true(logged.includes('provider rejected a request'));
  for (const [what, value] of secrets) {
    t.false(logged.includes(value), `the log holds the ${what}`);
    t.false(logged.includes(encodeURIComponent(value)), `the log holds the ${what}, URL-encoded`);
  }
});
