import { generate } from 'otplib';
import { confirmTotpEnrolment, startTotpEnrolment } from '../../src/domain/factors/totp.js';
import { testActor } from './actor.js';
import { findForm, type Browser } from './browser.js';
import { authorizationRequest, go, isConsentPage, isLoginPage, redeem, submitConsent, submitLogin, type Authorization, type RelyingParty, type Step } from './rp.js';
import type { TestServer } from './server.js';

/** The code an authenticator app shows for `secret` at `at` (seconds; default now, on the clock the server reads). */
export async function totpCode(secret: string, at: number = Math.floor(Date.now() / 1000)): Promise<string> {
  return generate({ secret, epoch: at });
}

/** The secret shown as text on an enrolment page (grouped by four for reading). */
export function secretOnPage(html: string): string {
  const shown = /<code class="totp-key"[^>]*>([^<]+)<\/code>/.exec(html)?.[1];
  if (!shown) throw new Error(`no TOTP secret on the page:\n${html}`);
  return shown.replace(/\s/g, '');
}

/**
 * Sets up an authenticator app for a user through the domain functions, confirmed with the
 * code of the current step (so that step is used up). Returns the secret and the recovery codes.
 */
export async function enrolTotp(server: TestServer, user: { id: string; email: string }): Promise<{ secret: string; recoveryCodes: string[] }> {
  const { secret } = await startTotpEnrolment(server.deps, user);
  const { recoveryCodes } = await confirmTotpEnrolment(server.deps, testActor, user.id, await totpCode(secret));
  if (!recoveryCodes) throw new Error('a first factor comes with recovery codes');
  return { secret, recoveryCodes };
}

/**
 * Posts the form of `page` whose action ends with `action`, its hidden fields (_csrf) with
 * `fields` on top, and follows a redirect as far as the RP's callback or the next page.
 */
export async function postForm(browser: Browser, rp: RelyingParty, page: { url: URL; html: string }, action: string, fields: Record<string, string> = {}): Promise<Step> {
  const form = findForm(page.html, action);
  const response = await browser.post(new URL(form.action, page.url), { ...form.fields, ...fields });
  const location = response.headers.get('location');
  if (response.status === 303 && location) return go(browser, rp, new URL(location, page.url));
  return { url: page.url, response, html: await response.text() };
}

/** From wherever the sign-in stands to the RP's callback: consent if asked. */
export async function toCallback(browser: Browser, rp: RelyingParty, step: Step): Promise<Step> {
  const landed = isConsentPage(step) ? await submitConsent(browser, rp, step) : step;
  if (!landed.url.href.startsWith(rp.redirectUri)) throw new Error(`expected the callback, stopped at ${landed.url.href} (${landed.response.status}):\n${landed.html}`);
  return landed;
}

/** Starts an authorization request and gives the password: the step after it (second factor, consent or callback). */
export async function afterPassword(browser: Browser, rp: RelyingParty, user: { email: string; password: string }, params: Record<string, string> = {}) {
  const request = await authorizationRequest(rp, params);
  const login = await go(browser, rp, request.url);
  if (!isLoginPage(login)) throw new Error(`expected the login page, got ${login.url.href} (${login.response.status})`);
  return { request, step: await submitLogin(browser, rp, login, user) };
}

/** The ID token's claims after redeeming the callback's code. */
export async function idTokenClaims(rp: RelyingParty, callback: Step, request: Authorization) {
  const tokens = await redeem(rp, callback.url, request);
  const claims = tokens.claims();
  if (!claims) throw new Error('no ID token');
  return claims;
}
