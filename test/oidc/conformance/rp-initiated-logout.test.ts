/**
 * The conformance suite's RP-Initiated Logout OP plan (oidcc-rp-initiated-logout-certification-
 * test-plan), one test per module. Like the suite, the end-session requests here carry exactly
 * the parameters each module sends and no client_id (openid-client's buildEndSessionUrl always
 * adds one, which changes what oidc-provider does with post_logout_redirect_uri).
 */
import test, { type ExecutionContext } from 'ava';
import { generateKeyPair, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from '../../helpers/browser.js';
import {
  assertErrorPage,
  confirmLogout,
  idTokenClaims,
  isLogoutConfirmation,
  isSignedOutPage,
  longState,
  openEndSession,
  silentAuthorizationError,
} from '../../helpers/conformance.js';
import { createTestUser, POST_LOGOUT_URI, redeem, registerRp, signIn, type RelyingParty } from '../../helpers/rp.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

/** A user signed in to an RP that registered POST_LOGOUT_URI, with the ID token the RP holds. */
async function signedIn(rp?: RelyingParty) {
  const user = await createTestUser(server);
  const client = rp ?? (await registerRp(server));
  const browser = new Browser();
  const { callback, request } = await signIn(browser, client, user, { scope: 'openid' });
  const tokens = await redeem(client, callback, request);
  return { user, rp: client, browser, idToken: tokens.id_token! };
}

/** The confirmation page is Latchkey's, in the browser's session, asking before anything happens. */
function assertConfirmation(t: ExecutionContext, page: { response: Response; html: string }) {
  t.is(page.response.status, 200, page.html);
  t.regex(page.response.headers.get('content-type') ?? '', /^text\/html/);
  t.is(page.response.headers.get('location'), null);
  t.true(isLogoutConfirmation(page.html), `not the confirmation page:\n${page.html}`);
}

/** Follows the 303 after confirming to the end-session success page. */
async function signedOutPage(t: ExecutionContext, browser: Browser, confirmed: Response) {
  t.is(confirmed.status, 303);
  const location = new URL(confirmed.headers.get('location') ?? '', server.issuer);
  t.is(location.origin, new URL(server.issuer).origin, 'the browser stays on Latchkey');
  const response = await browser.request(location);
  const html = await response.text();
  t.is(response.status, 200);
  t.true(isSignedOutPage(html), `not the signed-out page:\n${html}`);
  return { location, html };
}

test('oidcc-rp-initiated-logout: after confirming, the browser goes to the registered post-logout URI with the state and the session is gone', async (t) => {
  const { rp, browser, idToken } = await signedIn();
  t.is(await silentAuthorizationError(browser, rp), null, 'signed in before logging out');
  const state = longState();

  const page = await openEndSession(browser, rp, { id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT_URI, state });
  assertConfirmation(t, page);
  t.true(page.html.includes('Test RP'), 'the page names the application');

  const confirmed = await confirmLogout(browser, page);
  t.is(confirmed.status, 303);
  const location = new URL(confirmed.headers.get('location') ?? '');
  t.is(`${location.origin}${location.pathname}`, POST_LOGOUT_URI);
  t.deepEqual([...location.searchParams.keys()], ['state'], 'only state is added');
  t.is(location.searchParams.get('state'), state, 'a 128-character state comes back unchanged');

  t.is(await silentAuthorizationError(browser, rp), 'login_required');
});

test('oidcc-rp-initiated-logout-bad-post-logout-redirect-uri: an unregistered post_logout_redirect_uri gets the error page, no redirect, and no logout', async (t) => {
  const { rp, browser, idToken } = await signedIn();
  const response = await browser.request(endSessionUrl(rp, { id_token_hint: idToken, post_logout_redirect_uri: 'https://rp.example/elsewhere', state: oidc.randomState() }));
  const html = await assertErrorPage(t, response, 'invalid_request');
  t.true(html.includes('post_logout_redirect_uri'), 'the page says what is wrong');
  t.is(await silentAuthorizationError(browser, rp), null, 'still signed in');
});

test('oidcc-rp-initiated-logout-modified-id-token-hint: an id_token_hint changed to alg none gets the error page, no redirect, and no logout', async (t) => {
  const { rp, browser, idToken } = await signedIn();
  const [, payload] = idToken.split('.');
  const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
  const response = await browser.request(endSessionUrl(rp, { id_token_hint: unsigned, post_logout_redirect_uri: POST_LOGOUT_URI, state: oidc.randomState() }));
  await assertErrorPage(t, response, 'invalid_request');
  t.is(await silentAuthorizationError(browser, rp), null, 'still signed in');
});

test('oidcc-rp-initiated-logout-bad-id-token-hint: an id_token_hint signed by someone else gets the error page, no redirect, and no logout', async (t) => {
  const { rp, browser, idToken } = await signedIn();
  const { privateKey } = await generateKeyPair('RS256');
  const claims = idTokenClaims(idToken);
  const forged = await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'not-latchkey' })
    .sign(privateKey);
  const response = await browser.request(endSessionUrl(rp, { id_token_hint: forged, post_logout_redirect_uri: POST_LOGOUT_URI, state: oidc.randomState() }));
  await assertErrorPage(t, response, 'invalid_request');
  t.is(await silentAuthorizationError(browser, rp), null, 'still signed in');
});

test('oidcc-rp-initiated-logout-no-id-token-hint: without id_token_hint or client_id the post-logout URI is never used; with client_id it is, after confirmation', async (t) => {
  const { rp, browser } = await signedIn();
  const state = oidc.randomState();
  // As the suite sends it: nothing says which client the URI belongs to, so it cannot be trusted.
  const page = await openEndSession(browser, rp, { post_logout_redirect_uri: POST_LOGOUT_URI, state });
  assertConfirmation(t, page);
  const { location, html } = await signedOutPage(t, browser, await confirmLogout(browser, page));
  t.false(location.searchParams.has('state'));
  t.false(html.includes(state));
  t.is(await silentAuthorizationError(browser, rp), 'login_required');

  // An RP using openid-client names itself with client_id; then the registered URI is honoured.
  const second = await signedIn(rp);
  const url = oidc.buildEndSessionUrl(rp.config, { post_logout_redirect_uri: POST_LOGOUT_URI, state });
  t.is(url.searchParams.get('client_id'), rp.clientId);
  const response = await second.browser.request(url);
  const withClient = { url, response, html: await response.text() };
  assertConfirmation(t, withClient);
  const confirmed = await confirmLogout(second.browser, withClient);
  t.is(confirmed.headers.get('location'), `${POST_LOGOUT_URI}?state=${state}`);
  t.is(await silentAuthorizationError(second.browser, rp), 'login_required');
});

test('oidcc-rp-initiated-logout-no-params: with no parameters the user confirms and lands on Latchkey’s signed-out page, signed out', async (t) => {
  const { rp, browser } = await signedIn();
  const page = await openEndSession(browser, rp, {});
  t.is(page.url.search, '');
  assertConfirmation(t, page);
  await signedOutPage(t, browser, await confirmLogout(browser, page));
  t.is(await silentAuthorizationError(browser, rp), 'login_required');
});

test('oidcc-rp-initiated-logout-no-post-logout-redirect-uri: id_token_hint alone ends on Latchkey’s signed-out page, signed out', async (t) => {
  const { rp, browser, idToken } = await signedIn();
  const page = await openEndSession(browser, rp, { id_token_hint: idToken });
  assertConfirmation(t, page);
  await signedOutPage(t, browser, await confirmLogout(browser, page));
  t.is(await silentAuthorizationError(browser, rp), 'login_required');
});

test('oidcc-rp-initiated-logout-no-state: without state the browser goes to the post-logout URI with no parameters and the session is gone', async (t) => {
  const { rp, browser, idToken } = await signedIn();
  const page = await openEndSession(browser, rp, { id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT_URI });
  assertConfirmation(t, page);
  const confirmed = await confirmLogout(browser, page);
  t.is(confirmed.status, 303);
  t.is(confirmed.headers.get('location'), POST_LOGOUT_URI);
  t.is(await silentAuthorizationError(browser, rp), 'login_required');
});

test('oidcc-rp-initiated-logout-only-state: state alone ends on Latchkey’s signed-out page and the state is not echoed', async (t) => {
  const { rp, browser } = await signedIn();
  const marker = oidc.randomState();
  const state = `${marker}"><script>alert(1)</script>`;
  const page = await openEndSession(browser, rp, { state });
  assertConfirmation(t, page);
  t.false(page.html.includes(marker), 'the confirmation page does not carry the state');
  t.false(page.html.includes('<script>'));
  const { location, html } = await signedOutPage(t, browser, await confirmLogout(browser, page));
  t.false(location.search.includes(marker), `the success URL carries no state: ${location.href}`);
  t.false(html.includes(marker));
  t.false(html.includes('<script>'));
  t.is(await silentAuthorizationError(browser, rp), 'login_required');
});

test('oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri: a query added to the registered URI makes it unregistered; a registered query is kept and state appended', async (t) => {
  const withQuery = 'https://rp.example/signed-out?from=latchkey';
  const rp = await registerRp(server, { postLogoutRedirectUris: [POST_LOGOUT_URI, withQuery] });
  const { browser, idToken } = await signedIn(rp);
  const state = oidc.randomState();

  // The module: the registered URI with "?foo=bar" added is not the registered URI.
  const added = await browser.request(endSessionUrl(rp, { id_token_hint: idToken, post_logout_redirect_uri: `${POST_LOGOUT_URI}?foo=bar`, state }));
  await assertErrorPage(t, added, 'invalid_request');
  t.is(await silentAuthorizationError(browser, rp), null, 'still signed in');

  // A URI registered with its query keeps it, and state is appended to it.
  const page = await openEndSession(browser, rp, { id_token_hint: idToken, post_logout_redirect_uri: withQuery, state });
  assertConfirmation(t, page);
  const confirmed = await confirmLogout(browser, page);
  const location = new URL(confirmed.headers.get('location') ?? '');
  t.is(`${location.origin}${location.pathname}`, 'https://rp.example/signed-out');
  t.deepEqual([...location.searchParams], [
    ['from', 'latchkey'],
    ['state', state],
  ]);
  t.is(await silentAuthorizationError(browser, rp), 'login_required');
});

function endSessionUrl(rp: RelyingParty, params: Record<string, string>): URL {
  const url = new URL(rp.config.serverMetadata().end_session_endpoint!);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url;
}

test('oidcc-rp-initiated-logout-discovery-endpoint-verification: discovery advertises an end_session_endpoint under the issuer that answers', async (t) => {
  const response = await fetch(`${server.issuer}/.well-known/openid-configuration`);
  t.is(response.status, 200);
  const metadata = (await response.json()) as Record<string, unknown>;
  t.is(metadata.issuer, server.issuer);
  const endSession = metadata.end_session_endpoint;
  t.is(typeof endSession, 'string');
  t.true((endSession as string).startsWith(`${server.issuer}/`));
  // For a signed-in browser it asks to confirm rather than failing.
  const { browser, rp } = await signedIn();
  assertConfirmation(t, await openEndSession(browser, rp, {}));
});
