import test from 'ava';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.js';
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
  submitLogin,
  type RelyingParty,
} from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

const OFFLINE = { scope: 'openid offline_access', prompt: 'consent' };

async function introspect(rp: RelyingParty, token: string): Promise<Record<string, unknown>> {
  const response = await postWithBasic(`${server.issuer}/token/introspection`, rp, { token });
  if (response.status !== 200) throw new Error(`introspection answered ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

async function offlineTokens(rp: RelyingParty) {
  const user = await createTestUser(server);
  const { callback, request } = await signIn(new Browser(), rp, user, OFFLINE);
  return redeem(rp, callback, request);
}

test('a client access_token_ttl shortens its client_credentials tokens', async (t) => {
  const machine = { grantTypes: ['client_credentials' as const], redirectUris: [], postLogoutRedirectUris: [] };
  const short = await registerRp(server, { ...machine, accessTokenTtl: 120 });
  const normal = await registerRp(server, machine);
  t.true(server.config.tokens.accessTtl > 120);
  t.is((await oidc.clientCredentialsGrant(short.config)).expires_in, 120);
  t.is((await oidc.clientCredentialsGrant(normal.config)).expires_in, server.config.tokens.accessTtl);
});

test('a client access_token_ttl shortens the access tokens of its sign-ins', async (t) => {
  const rp = await registerRp(server, { accessTokenTtl: 90 });
  const tokens = await offlineTokens(rp);
  t.is(tokens.expires_in, 90);
  const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
  t.is(refreshed.expires_in, 90);
});

test('a client refresh_token_ttl sets the lifetime of its refresh tokens', async (t) => {
  const custom = await registerRp(server, { refreshTokenTtl: 600 });
  const normal = await registerRp(server);
  const customDetails = await introspect(custom, (await offlineTokens(custom)).refresh_token!);
  const normalDetails = await introspect(normal, (await offlineTokens(normal)).refresh_token!);
  t.is(customDetails.active, true);
  t.is((customDetails.exp as number) - (customDetails.iat as number), 600);
  t.is((normalDetails.exp as number) - (normalDetails.iat as number), server.config.tokens.refreshTtl);
});

/** Signs in up to the page that follows the password: the consent page or the RP's callback. */
async function afterLogin(rp: RelyingParty) {
  const user = await createTestUser(server);
  const browser = new Browser();
  const request = await authorizationRequest(rp);
  const login = await go(browser, rp, request.url);
  if (!isLoginPage(login)) throw new Error(`expected the sign-in page, got ${login.url.href}`);
  return { step: await submitLogin(browser, rp, login, user), request };
}

test('a first-party client skips the consent page; a normal client shows it', async (t) => {
  const firstParty = await registerRp(server, { firstParty: true });
  const { step, request } = await afterLogin(firstParty);
  t.false(isConsentPage(step));
  t.true(step.url.href.startsWith(firstParty.redirectUri), step.url.href);
  const tokens = await redeem(firstParty, step.url, request);
  t.is(typeof tokens.access_token, 'string');

  const normal = await registerRp(server);
  const { step: normalStep } = await afterLogin(normal);
  t.true(isConsentPage(normalStep));
  t.false(normalStep.url.href.startsWith(normal.redirectUri));
});
