/**
 * The OpenID Foundation conformance suite's Basic OP and Config OP plans (oidcc-basic-certification-
 * test-plan, oidcc-config-certification-test-plan), one test per module, checking what that module
 * checks. The modules that need time to pass are in time.test.ts; RP-initiated logout is in
 * rp-initiated-logout.test.ts.
 */
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { Browser, findForm } from '../../helpers/browser.js';
import {
  assertErrorPage,
  callbackError,
  endpoint,
  entropyBits,
  ERROR_DESCRIPTION_CHARSET,
  idTokenClaims,
  idTokenHeader,
  leftHalfHash,
  longState,
  redeemAgain,
  serverMetadata,
  verifyIdToken,
} from '../../helpers/conformance.js';
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
  type TestUser,
} from '../../helpers/rp.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

/** Claims an ID token may carry without being asked (the suite's EnsureIdTokenDoesNotContainNonRequestedClaims). */
const ID_TOKEN_PROTOCOL_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'at_hash', 'c_hash', 'nbf', 'jti', 'sid', 's_hash'];

async function signedIn(options: { rp?: RelyingParty; params?: Record<string, string> } = {}) {
  const user = await createTestUser(server, { name: 'Buffy Summers' });
  const rp = options.rp ?? (await registerRp(server));
  const browser = new Browser();
  const { callback, request } = await signIn(browser, rp, user, options.params);
  const tokens = await redeem(rp, callback, request);
  return { user, rp, browser, callback, request, tokens };
}

/** The userinfo checks every OIDCC userinfo module runs (AbstractOIDCCUserInfoTest). */
async function assertUserInfo(t: ExecutionContext, response: Response, expected: { sub: string; user: TestUser }) {
  const body = await response.text();
  t.is(response.status, 200, body);
  t.regex(response.headers.get('content-type') ?? '', /^application\/json/);
  const info = JSON.parse(body) as Record<string, unknown>;
  t.is(info.sub, expected.sub);
  t.is(info.email, expected.user.email);
  t.is(info.email_verified, true);
  t.is(info.name, expected.user.name);
  // OIDC Core §5.1: a JSON number of seconds, not a string or milliseconds.
  t.true(Number.isInteger(info.updated_at), `updated_at is ${String(info.updated_at)}`);
  t.true((info.updated_at as number) <= Date.now() / 1000 + 5 && (info.updated_at as number) > Date.now() / 1000 - 3600);
}

test('oidcc-server: the code flow returns a strong code, a valid signed ID token and a bearer access token, and nothing unrequested', async (t) => {
  const { user, rp, callback, request, tokens } = await signedIn({ params: { scope: 'openid' } });

  const code = callback.searchParams.get('code') ?? '';
  t.true(code.length * 8 >= 128, `code is ${code.length} characters`);
  t.true(entropyBits(code) > 96, 'code looks random enough');
  t.is(callback.searchParams.get('state'), request.state);

  t.is(tokens.token_type.toLowerCase(), 'bearer');
  t.true(typeof tokens.expires_in === 'number' && tokens.expires_in > 0);

  const { payload } = await verifyIdToken(rp, tokens.id_token!);
  t.is(payload.iss, server.issuer);
  t.is(payload.sub, user.id);
  t.is(payload.aud, rp.clientId);
  t.is(payload.nonce, request.nonce);
  const now = Math.floor(Date.now() / 1000);
  t.true(payload.exp! > now && payload.exp! < now + 86400 * 365);
  t.true(Math.abs(payload.iat! - now) < 300);
  // Optional at the token endpoint, but correct when present.
  if (payload.at_hash !== undefined) t.is(payload.at_hash, leftHalfHash(tokens.access_token));
  if (payload.c_hash !== undefined) t.is(payload.c_hash, leftHalfHash(code));
  const unrequested = Object.keys(payload).filter((claim) => !ID_TOKEN_PROTOCOL_CLAIMS.includes(claim));
  t.deepEqual(unrequested, [], 'the ID token holds only protocol claims when only openid was asked for');
});

test('oidcc-server-client-secret-post: a client registered for client_secret_post completes the code flow with its secret in the body', async (t) => {
  const rp = await registerRp(server, { tokenEndpointAuthMethod: 'client_secret_post' });
  t.true(serverMetadata(rp).token_endpoint_auth_methods_supported?.includes('client_secret_post'));
  // registerRp gives openid-client ClientSecretPost for this client: client_id and client_secret go in the form body.
  const { user, tokens } = await signedIn({ rp });
  t.is(idTokenClaims(tokens.id_token).sub, user.id);
  const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, user.id);
  t.is(info.email, user.email);
});

test('oidcc-idtoken-signature: the default ID token is RS256, names its kid, and verifies against that JWKS key', async (t) => {
  const { rp, tokens } = await signedIn();
  const idToken = tokens.id_token!;
  const header = idTokenHeader(idToken);
  // OIDC Core §3.1.3.7: RS256 is the default when the client registered no id_token_signed_response_alg.
  t.is(header.alg, 'RS256');
  t.is(typeof header.kid, 'string');

  const response = await fetch(serverMetadata(rp).jwks_uri!);
  const jwks = (await response.json()) as JSONWebKeySet;
  const key = jwks.keys.find((candidate) => candidate.kid === header.kid);
  t.truthy(key, 'the kid is published in the JWKS');
  t.is(key?.kty, 'RSA');
  const keySet = createLocalJWKSet(jwks);
  const { payload } = await jwtVerify(idToken, keySet, { issuer: server.issuer, audience: rp.clientId, algorithms: ['RS256'] });
  t.is(payload.sub, idTokenClaims(idToken).sub);

  // The signature covers the claims: the same token with another subject does not verify.
  const [encodedHeader, encodedPayload, signature] = idToken.split('.');
  const forged = { ...JSON.parse(Buffer.from(encodedPayload!, 'base64url').toString()), sub: 'someone-else' };
  const tampered = `${encodedHeader}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${signature}`;
  await t.throwsAsync(jwtVerify(tampered, keySet, { algorithms: ['RS256'] }), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  t.is(decodeProtectedHeader(tampered).kid, header.kid);
});

test('oidcc-userinfo-get: a GET with the bearer token in the header returns the user claims as JSON', async (t) => {
  const { user, rp, tokens } = await signedIn();
  const response = await fetch(endpoint(rp, 'userinfo_endpoint'), { headers: { authorization: `Bearer ${tokens.access_token}` } });
  await assertUserInfo(t, response, { sub: idTokenClaims(tokens.id_token).sub!, user });
});

test('oidcc-userinfo-post-header: a POST with the bearer token in the header returns the user claims as JSON', async (t) => {
  const { user, rp, tokens } = await signedIn();
  const response = await fetch(endpoint(rp, 'userinfo_endpoint'), {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  await assertUserInfo(t, response, { sub: idTokenClaims(tokens.id_token).sub!, user });
});

test('oidcc-userinfo-post-body: a POST with the access token in the form body returns the user claims as JSON', async (t) => {
  const { user, rp, tokens } = await signedIn();
  const response = await fetch(endpoint(rp, 'userinfo_endpoint'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ access_token: tokens.access_token }).toString(),
  });
  await assertUserInfo(t, response, { sub: idTokenClaims(tokens.id_token).sub!, user });
});

test('oidcc-scope-profile: scope profile releases the profile claims at userinfo and not the email, nor anything in the ID token', async (t) => {
  const { user, rp, tokens } = await signedIn({ params: { scope: 'openid profile' } });
  const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, user.id);
  t.is(info.name, user.name);
  t.true(Number.isInteger(info.updated_at));
  t.false('email' in info);
  t.false('email_verified' in info);
  const claims = idTokenClaims(tokens.id_token);
  t.false('name' in claims, 'profile claims go to userinfo when an access token is issued (OIDC Core §5.4)');
  t.false('email' in claims);
});

test('oidcc-scope-email: scope email releases email and email_verified at userinfo, not the name, and not in the ID token', async (t) => {
  const { user, rp, tokens } = await signedIn({ params: { scope: 'openid email' } });
  const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, user.id);
  t.is(info.email, user.email);
  t.is(info.email_verified, true);
  t.false('name' in info);
  const claims = idTokenClaims(tokens.id_token);
  t.false('email' in claims);
  t.false('name' in claims);
});

test('oidcc-prompt-none-not-logged-in: prompt=none without a session returns login_required to the redirect_uri with the state intact', async (t) => {
  const rp = await registerRp(server);
  const state = longState();
  const request = await authorizationRequest(rp, { prompt: 'none', state });
  const step = await go(new Browser(), rp, request.url);
  t.true(step.url.href.startsWith(rp.redirectUri), `no page is shown; stopped at ${step.url.href}`);
  const result = callbackError(step.url);
  t.is(result.error, 'login_required');
  t.is(result.state, state, 'a 128-character state comes back unchanged');
  t.is(result.iss, server.issuer);
  t.is(result.code, null);
});

test('oidcc-prompt-none-logged-in: prompt=none with a session returns a code without showing any page, for the same subject', async (t) => {
  const { user, rp, browser, tokens } = await signedIn();
  const request = await authorizationRequest(rp, { prompt: 'none' });
  const step = await go(browser, rp, request.url);
  t.true(step.url.href.startsWith(rp.redirectUri), `a page was shown: ${step.response.status}`);
  const second = await redeem(rp, step.url, request);
  const first = idTokenClaims(tokens.id_token);
  const again = idTokenClaims(second.id_token);
  t.is(again.sub, user.id);
  t.is(again.sub, first.sub);
  t.is(again.auth_time, first.auth_time);
});

test('oidcc-id-token-hint: prompt=none with the signed-in user’s ID token as id_token_hint succeeds silently for that user', async (t) => {
  const { user, rp, browser, tokens } = await signedIn();
  const request = await authorizationRequest(rp, { prompt: 'none', id_token_hint: tokens.id_token! });
  const step = await go(browser, rp, request.url);
  t.true(step.url.href.startsWith(rp.redirectUri), `a page was shown: ${step.response.status}`);
  t.is(callbackError(step.url).error, null);
  const second = await redeem(rp, step.url, request);
  t.is(idTokenClaims(second.id_token).sub, user.id);
  t.is(idTokenClaims(second.id_token).auth_time, idTokenClaims(tokens.id_token).auth_time);
});

test('oidcc-login-hint: login_hint prefills the email on the login page and the sign-in completes', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const browser = new Browser();
  const request = await authorizationRequest(rp, { login_hint: user.email });
  const page = await go(browser, rp, request.url);
  t.true(isLoginPage(page));
  t.is(findForm(page.html, '/login').fields.email, user.email);
  let step = await submitLogin(browser, rp, page, user);
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  t.true(step.url.href.startsWith(rp.redirectUri));
  const tokens = await redeem(rp, step.url, request);
  t.is(idTokenClaims(tokens.id_token).sub, user.id);
});

test('oidcc-ui-locales: ui_locales is accepted, the login page is in the requested language, and an unknown one falls back to English', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);

  const browser = new Browser();
  const request = await authorizationRequest(rp, { ui_locales: 'en' });
  const page = await go(browser, rp, request.url);
  t.true(isLoginPage(page));
  t.regex(page.html, /<html lang="en">/);
  let step = await submitLogin(browser, rp, page, user);
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  t.true(step.url.href.startsWith(rp.redirectUri));
  t.is(idTokenClaims((await redeem(rp, step.url, request)).id_token).sub, user.id);

  // The suite's default is "se", which Latchkey has no pages for: no error, English pages.
  const swedish = await go(new Browser(), rp, (await authorizationRequest(rp, { ui_locales: 'se' })).url);
  t.true(isLoginPage(swedish));
  t.regex(swedish.html, /<html lang="en">/);

  // The first of the preferences Latchkey has pages for wins.
  const german = await go(new Browser(), rp, (await authorizationRequest(rp, { ui_locales: 'se de-CH en' })).url);
  t.regex(german.html, /<html lang="de">/);
  t.regex(german.html, /<h1>Anmelden<\/h1>/);
});

test('oidcc-claims-essential: a claims request for name as essential at userinfo returns the name there and not in the ID token', async (t) => {
  const claims = JSON.stringify({ userinfo: { name: { essential: true } } });
  const { user, rp, tokens } = await signedIn({ params: { scope: 'openid', claims } });
  const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, user.id);
  t.is(info.name, user.name);
  t.false('email' in info, 'only what was asked for is released');
  t.false('name' in idTokenClaims(tokens.id_token));
});

test('oidcc-codereuse: a code redeemed twice is refused with invalid_grant and what it issued is revoked', async (t) => {
  const { user, rp, callback, request, tokens } = await signedIn();
  t.is((await oidc.fetchUserInfo(rp.config, tokens.access_token, user.id)).sub, user.id, 'the access token works before the reuse');

  const reuse = await redeemAgain(rp, callback, request);
  t.is(reuse.status, 400);
  t.regex(reuse.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await reuse.json()) as { error: string; error_description?: string };
  t.is(body.error, 'invalid_grant');
  t.regex(body.error_description ?? '', ERROR_DESCRIPTION_CHARSET);

  const userinfo = await fetch(endpoint(rp, 'userinfo_endpoint'), { headers: { authorization: `Bearer ${tokens.access_token}` } });
  t.is(userinfo.status, 401);
  await userinfo.body?.cancel();
  const introspection = await postWithBasic(endpoint(rp, 'introspection_endpoint'), rp, { token: tokens.access_token });
  t.deepEqual(await introspection.json(), { active: false });
});

test('oidcc-ensure-registered-redirect-uri: an unregistered redirect_uri gets the error page, never a redirect', async (t) => {
  const rp = await registerRp(server);
  const browser = new Browser();
  // The suite appends a random string to the registered URI.
  const unregistered = `${REDIRECT_URI}${randomBytes(6).toString('hex')}`;
  const { url } = await authorizationRequest(rp, { redirect_uri: unregistered });
  const response = await browser.request(url);
  const html = await assertErrorPage(t, response, 'invalid_redirect_uri');
  t.false(html.includes(unregistered), 'the page offers no link to the unregistered address');
});

// The module registers two redirect URIs (it does not run for static clients). With exactly one
// registered, oidc-provider's allowOmittingSingleRegisteredRedirectUri (default true, left on by
// Latchkey) uses that one and the sign-in proceeds, which OIDC Core §3.1.2.1 does not allow.
test('oidcc-ensure-redirect-uri-in-authorization-request: a client with two redirect URIs that omits redirect_uri gets the error page', async (t) => {
  const rp = await registerRp(server, { redirectUris: [REDIRECT_URI, 'https://rp.example/other-callback'] });
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(rp.config, {
    scope: 'openid',
    state: oidc.randomState(),
    nonce: oidc.randomNonce(),
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  t.false(url.searchParams.has('redirect_uri'));
  const html = await assertErrorPage(t, await new Browser().request(url), 'invalid_request');
  t.true(html.includes('redirect_uri'), 'the page says what is missing');
});

test('oidcc-discovery-endpoint-verification: discovery names its issuer, absolute endpoints under it, a fetchable JWKS and the required metadata', async (t) => {
  const discoveryUrl = `${server.issuer}/.well-known/openid-configuration`;
  const response = await fetch(discoveryUrl);
  t.is(response.status, 200);
  t.regex(response.headers.get('content-type') ?? '', /^application\/json/);
  const metadata = (await response.json()) as Record<string, unknown>;

  // OIDC Discovery §4.3: the issuer is exactly where the document was fetched from.
  t.is(metadata.issuer, discoveryUrl.slice(0, -'/.well-known/openid-configuration'.length));
  for (const required of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'response_types_supported', 'subject_types_supported', 'id_token_signing_alg_values_supported']) {
    t.true(required in metadata, `${required} is present`);
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (!key.endsWith('_endpoint') && key !== 'jwks_uri') continue;
    t.is(typeof value, 'string', key);
    t.true(URL.canParse(value as string), `${key} is absolute`);
    t.true((value as string).startsWith(`${server.issuer}/`), `${key} is under the issuer`);
  }
  t.truthy(metadata.userinfo_endpoint);
  t.truthy(metadata.end_session_endpoint);

  t.deepEqual(metadata.response_types_supported, ['code']);
  t.true((metadata.subject_types_supported as string[]).some((type) => type === 'public' || type === 'pairwise'));
  t.true((metadata.id_token_signing_alg_values_supported as string[]).includes('RS256'));
  t.true((metadata.scopes_supported as string[]).includes('openid'));
  for (const scope of metadata.scopes_supported as string[]) t.regex(scope, /^[\x21\x23-\x5B\x5D-\x7E]+$/);
  t.true(Array.isArray(metadata.claims_supported) && (metadata.claims_supported as unknown[]).length > 0);
  t.true(Array.isArray(metadata.grant_types_supported) && (metadata.grant_types_supported as unknown[]).length > 0);
  t.true(Array.isArray(metadata.code_challenge_methods_supported));
  t.is(metadata.claims_parameter_supported, true);
  for (const locale of metadata.ui_locales_supported as string[]) t.regex(locale, /^[a-z]{2,3}(-[A-Za-z0-9]+)*$/);

  const jwksResponse = await fetch(metadata.jwks_uri as string);
  t.is(jwksResponse.status, 200);
  t.regex(jwksResponse.headers.get('content-type') ?? '', /^application\/(jwk-set\+)?json/);
  const { keys } = (await jwksResponse.json()) as JSONWebKeySet;
  t.true(keys.length > 0);
  t.is(new Set(keys.map((key) => key.kid)).size, keys.length, 'kids are unique');
  for (const key of keys) {
    t.is(key.use, 'sig');
    t.is(typeof key.kid, 'string');
    if (key.kty === 'RSA') t.truthy(key.n && key.e);
    else t.truthy(key.crv && key.x && key.y);
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) t.false(secret in key, `a ${key.kty} key publishes "${secret}"`);
  }
  t.true(keys.some((key) => key.alg === 'RS256'), 'an RS256 key backs the default ID token algorithm');
});
