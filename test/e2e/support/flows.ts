import type { Page } from 'playwright-core';
import { authorizationRequest, type Authorization, type RelyingParty } from '../../helpers/rp.js';

// Selected by form action and field ids, not by wording: the views are being translated.
export const loginForm = (page: Page) => page.locator('form[action$="/login"]');
export const consentForm = (page: Page) => page.locator('form[action$="/confirm"]');

export async function fillLogin(page: Page, user: { email: string; password: string }): Promise<void> {
  const form = loginForm(page);
  await form.locator('#email').fill(user.email);
  await form.locator('#password').fill(user.password);
}

/** Does `action` (a click, a key press) and waits until the browser has loaded the next page, wherever that is. */
export async function navigateBy(page: Page, action: () => Promise<void>): Promise<void> {
  const navigated = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame() });
  await action();
  await navigated;
  await page.waitForLoadState('load');
}

async function failure(page: Page, what: string): Promise<Error> {
  const text = await page.locator('body').innerText().catch(() => '');
  return new Error(`${what}; the browser is on ${page.url()}:\n${text.slice(0, 800)}`);
}

/**
 * Signs in on the login page the browser is on, and allows the app if Latchkey asks; stops
 * wherever the browser lands after that.
 */
export async function signInAndAllow(page: Page, user: { email: string; password: string }): Promise<void> {
  if ((await loginForm(page).count()) !== 1) throw await failure(page, 'expected the login page');
  await fillLogin(page, user);
  await navigateBy(page, () => loginForm(page).locator('button[type=submit]').click());
  if ((await loginForm(page).count()) > 0) throw await failure(page, 'the sign-in was refused');
  if ((await consentForm(page).count()) === 1) await navigateBy(page, () => consentForm(page).locator('button[type=submit]').click());
}

/** The whole front channel of `rp` in the browser: authorize, sign in, consent, land on the callback. */
export async function signInToRp(page: Page, rp: RelyingParty, user: { email: string; password: string }, params: Record<string, string> = {}): Promise<{ callback: URL; request: Authorization }> {
  const request = await authorizationRequest(rp, params);
  await page.goto(request.url.href);
  await signInAndAllow(page, user);
  const callback = new URL(page.url());
  if (!callback.href.startsWith(rp.redirectUri)) throw await failure(page, 'the sign-in did not reach the callback');
  return { callback, request };
}

/**
 * Opens one of Latchkey's own pages (account, console): it sends the browser through the login
 * page unless the browser has a session already; returns once the browser is back on `url`.
 */
export async function openSignedIn(page: Page, url: string, user: { email: string; password: string }): Promise<void> {
  await page.goto(url);
  if ((await loginForm(page).count()) === 1) await signInAndAllow(page, user);
  const target = new URL(url);
  const landed = new URL(page.url());
  if (landed.origin !== target.origin || landed.pathname !== target.pathname) throw await failure(page, `expected to be back on ${url}`);
}
