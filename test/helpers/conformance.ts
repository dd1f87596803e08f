import { createHash } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { findForm, type Browser } from './browser.js';
import { go, postWithBasic, type RelyingParty } from './rp.js';

/**
 * What the OpenID Foundation conformance suite's OP modules look at, in the shapes the
 * test/oidc/conformance/ files share.
 */

export function serverMetadata(rp: RelyingParty): oidc.ServerMetadata {
  return rp.config.serverMetadata();
}

export function endpoint(rp: RelyingParty, name: 'token_endpoint' | 'userinfo_endpoint' | 'introspection_endpoint' | 'end_session_endpoint' | 'authorization_endpoint'): string {
  const url = serverMetadata(rp)[name];
  if (typeof url !== 'string') throw new Error(`discovery has no ${name}`);
  return url;
}

export function idTokenClaims(idToken: string | undefined): JWTPayload & { auth_time?: number; nonce?: string; azp?: string } {
  if (!idToken) throw new Error('no id_token was issued');
  return decodeJwt(idToken);
}

export function idTokenHeader(idToken: string | undefined) {
  if (!idToken) throw new Error('no id_token was issued');
  return decodeProtectedHeader(idToken);
}

const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/** Verifies an ID token's signature against the published JWKS, and its iss and aud. */
export async function verifyIdToken(rp: RelyingParty, idToken: string, algorithms = ['RS256']) {
  const { issuer, jwks_uri: jwksUri } = serverMetadata(rp);
  if (!jwksUri) throw new Error('discovery has no jwks_uri');
  let keySet = keySets.get(jwksUri);
  if (!keySet) {
    keySet = createRemoteJWKSet(new URL(jwksUri));
    keySets.set(jwksUri, keySet);
  }
  return jwtVerify(idToken, keySet, { issuer, audience: rp.clientId, algorithms });
}

/** at_hash / c_hash for an RS256 or ES256 ID token (OIDC Core §3.1.3.6): the left half of SHA-256. */
export function leftHalfHash(value: string): string {
  return createHash('sha256').update(value).digest().subarray(0, 16).toString('base64url');
}

/** Shannon entropy of the string times its length: the suite's estimate of a secret's randomness. */
export function entropyBits(value: string): number {
  const counts = new Map<string, number>();
  for (const char of value) counts.set(char, (counts.get(char) ?? 0) + 1);
  let perChar = 0;
  for (const count of counts.values()) {
    const p = count / value.length;
    perChar -= p * Math.log2(p);
  }
  return perChar * value.length;
}

/** RFC 6749 §5.2: error_description is limited to printable ASCII without `"` and `\`. */
export const ERROR_DESCRIPTION_CHARSET = /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/;

/** The error a redirect_uri callback carries, with its state and the RFC 9207 iss. */
export function callbackError(callback: URL) {
  return {
    error: callback.searchParams.get('error'),
    state: callback.searchParams.get('state'),
    iss: callback.searchParams.get('iss'),
    code: callback.searchParams.get('code'),
  };
}

/** A 128-character state, as the suite sends to check the OP does not truncate or corrupt it. */
export function longState(): string {
  let state = '';
  while (state.length < 128) state += oidc.randomState();
  return state.slice(0, 128);
}

/**
 * Asserts a response is Latchkey's own error page for `code`: HTML, a client error status,
 * and no Location header (the browser is not sent anywhere).
 */
export async function assertErrorPage(t: ExecutionContext, response: Response, code: string): Promise<string> {
  const html = await response.text();
  t.is(response.status, 400, html);
  t.regex(response.headers.get('content-type') ?? '', /^text\/html/);
  t.is(response.headers.get('location'), null);
  t.true(html.includes(`<code translate="no">${code}</code>`), `the page names the error ${code}:\n${html}`);
  return html;
}

export function isLogoutConfirmation(html: string): boolean {
  return html.includes('id="op.logoutForm"');
}

export function isSignedOutPage(html: string): boolean {
  return html.includes('You have been signed out');
}

/** Opens the end-session endpoint in the browser; no redirects are followed. */
export async function openEndSession(browser: Browser, rp: RelyingParty, params: Record<string, string>) {
  const url = new URL(endpoint(rp, 'end_session_endpoint'));
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  const response = await browser.request(url);
  return { url, response, html: await response.text() };
}

/** Presses "Sign out of Latchkey" on the confirmation page; returns the 303 the browser gets. */
export async function confirmLogout(browser: Browser, page: { url: URL; html: string }): Promise<Response> {
  const form = findForm(page.html, '/session/end/confirm');
  const response = await browser.post(new URL(form.action, page.url), { ...form.fields, logout: 'yes' });
  await response.body?.cancel();
  return response;
}

/**
 * The suite's check that a browser has no session left: a prompt=none authorization must come
 * back to the redirect_uri with login_required (OIDC Core §3.1.2.6).
 */
export async function silentAuthorizationError(browser: Browser, rp: RelyingParty): Promise<string | null> {
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri,
    scope: 'openid',
    prompt: 'none',
    state,
    nonce: oidc.randomNonce(),
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const step = await go(browser, rp, url);
  if (!step.url.href.startsWith(rp.redirectUri)) throw new Error(`prompt=none showed a page (${step.response.status}):\n${step.html}`);
  const result = callbackError(step.url);
  if (result.state !== state) throw new Error('prompt=none answered with another state');
  return result.error;
}

/** Redeems an already-redeemed code again, exactly as the first redemption did. */
export function redeemAgain(rp: RelyingParty, callback: URL, request: { codeVerifier: string }): Promise<Response> {
  return postWithBasic(endpoint(rp, 'token_endpoint'), rp, {
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code')!,
    redirect_uri: rp.redirectUri,
    code_verifier: request.codeVerifier,
  });
}
