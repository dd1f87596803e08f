import test, { type ExecutionContext } from 'ava';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.js';
import {
  authorizationRequest,
  createTestUser,
  go,
  isConsentPage,
  isLoginPage,
  postWithBasic,
  REDIRECT_URI,
  redeem,
  registerRp,
  signIn,
  submitConsent,
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

/** An authorization request's checks, for a URL built another way (PAR, JAR). */
async function requestChecks() {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const params = {
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  return { params, check: (url: URL) => ({ codeVerifier, state, nonce, url }) };
}

/** A plain authorization request of the client is answered with an error, never the sign-in page. */
async function assertPlainRequestRefused(t: ExecutionContext, rp: RelyingParty, description: RegExp) {
  const step = await go(new Browser(), rp, (await authorizationRequest(rp)).url);
  t.false(isLoginPage(step), 'a plain authorization request reached the sign-in page');
  if (step.url.href.startsWith(rp.redirectUri)) {
    t.is(step.url.searchParams.get('error'), 'invalid_request');
    t.regex(step.url.searchParams.get('error_description') ?? '', description);
  } else {
    t.is(step.response.status, 400);
  }
}

test('require_pushed_authorization_requests: a plain authorization request is refused; pushed first, the sign-in works', async (t) => {
  const rp = await registerRp(server, { requirePushedAuthorizationRequests: true });
  await assertPlainRequestRefused(t, rp, /Pushed Authorization Request/i);

  const { params, check } = await requestChecks();
  const url = await oidc.buildAuthorizationUrlWithPAR(rp.config, params);
  t.truthy(url.searchParams.get('request_uri'));
  const browser = new Browser();
  let step = await go(browser, rp, url);
  t.true(isLoginPage(step));
  step = await submitLogin(browser, rp, step, await createTestUser(server));
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  const tokens = await redeem(rp, step.url, check(url));
  t.truthy(tokens.access_token);
});

test('dpop_bound_access_tokens: a token request without a DPoP proof is refused; with one the token is DPoP-bound', async (t) => {
  const rp = await registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [], dpopBoundAccessTokens: true });
  const refused = await t.throwsAsync(oidc.clientCredentialsGrant(rp.config), { instanceOf: oidc.ResponseBodyError });
  t.is(refused?.error, 'invalid_grant');
  const DPoP = oidc.getDPoPHandle(rp.config, await oidc.randomDPoPKeyPair('ES256'));
  const tokens = await oidc.clientCredentialsGrant(rp.config, {}, { DPoP });
  t.is(tokens.token_type, 'dpop');

  const normal = await registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [] });
  t.is((await oidc.clientCredentialsGrant(normal.config)).token_type, 'bearer', 'other clients may still use bearer tokens');
});

test('require_signed_request_object: a plain authorization request is refused; one signed with the client’s key works', async (t) => {
  const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const jwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid: 'jar-1', alg: 'ES256', use: 'sig' };
  const rp = await registerRp(server, { tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [jwk] }, requireSignedRequestObject: true });
  await assertPlainRequestRefused(t, rp, /request object/i);

  const { params } = await requestChecks();
  // A request object that is not signed (alg none) is refused like no request object at all.
  const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'oauth-authz-req+jwt' })).toString('base64url')}.${Buffer.from(
    JSON.stringify({ ...params, client_id: rp.clientId, response_type: 'code', iss: rp.clientId, aud: server.issuer }),
  ).toString('base64url')}.`;
  const unsignedUrl = new URL(`${server.issuer}/auth`);
  unsignedUrl.search = new URLSearchParams({ client_id: rp.clientId, request: unsigned }).toString();
  t.false(isLoginPage(await go(new Browser(), rp, unsignedUrl)), 'an unsigned request object reached the sign-in page');

  const url = await oidc.buildAuthorizationUrlWithJAR(rp.config, params, { key: privateKey, kid: 'jar-1' });
  t.truthy(url.searchParams.get('request'));
  t.true(isLoginPage(await go(new Browser(), rp, url)));
});
