import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import * as oidc from 'openid-client';
import { requestEmailChange, verifyEmail } from '../../src/domain/email-verification.js';
import { createUser, setUserPassword } from '../../src/domain/users.js';
import { findUserByEmail } from '../../src/store/users.js';
import { testActor } from '../helpers/actor.js';
import { Browser, findForm, linkOn, openPage, submitPage } from '../helpers/browser.js';
import { advanceClock, resetClock } from '../helpers/clock.js';
import {
  authorizationRequest,
  createTestUser,
  go,
  isConsentPage,
  isLoginPage,
  redeem,
  registerRp,
  signIn,
  submitConsent,
  submitLogin,
  type Step,
} from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { linkIn, startMailCatcher, type MailCatcher } from '../helpers/smtp.js';

let server: TestServer;
let smtp: MailCatcher;

test.before(async () => {
  smtp = await startMailCatcher();
  // Sign-up stays at its default outside development: off.
  server = await startTestServer({ LATCHKEY_SMTP_URL: smtp.url, LATCHKEY_ENV: 'test' });
});

test.after.always(async () => {
  resetClock();
  await server?.dispose();
  await smtp?.close();
});

const open = (browser: Browser, url: string | URL) => openPage(browser, url, server.issuer);
const submit = submitPage;
const linkTo = linkOn;





/** Mail queued so far, to one address or to anyone. */
async function outboxCount(to?: string): Promise<number> {
  const query = server.deps.db.knex('mail_outbox').count({ count: '*' });
  if (to !== undefined) query.where({ to_address: to });
  const row = (await query.first()) as { count: string | number };
  return Number(row.count);
}

/** Asks for a reset link from a fresh browser and returns the link from the email that arrives. */
async function requestResetLink(email: string): Promise<URL> {
  const browser = new Browser();
  const sent = await submit(browser, await open(browser, '/password/forgot'), '/password/forgot', { email });
  if (sent.status !== 200) throw new Error(`the reset request answered ${sent.status}`);
  return linkIn(await smtp.next(email, (mail) => mail.subject === 'Reset your password'), '/password/reset');
}

const newPassword = () => `a brand new phrase ${randomBytes(4).toString('hex')}`;

async function expectInvalidGrant(t: ExecutionContext, attempt: Promise<unknown>) {
  const error = await t.throwsAsync(attempt, { instanceOf: oidc.ResponseBodyError });
  t.is(error?.error, 'invalid_grant');
}

test('with sign-up off, /signup is a 404 page and the login page offers no account creation', async (t) => {
  const page = await open(new Browser(), '/signup');
  t.is(page.status, 404);
  t.true(page.html.includes('Sign-up is not available on this server.'));
  const rp = await registerRp(server);
  const login = await go(new Browser(), rp, (await authorizationRequest(rp)).url);
  t.true(isLoginPage(login));
  t.is(linkTo(login.html, /signup/), undefined);
  t.truthy(linkTo(login.html, /^\/password\/forgot\?/));
});

test('a user resets a forgotten password through the emailed link: the old password and refresh token stop working', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const offline = await signIn(new Browser(), rp, user, { scope: 'openid offline_access', prompt: 'consent' });
  const { refresh_token: refreshToken } = await redeem(rp, offline.callback, offline.request);
  t.truthy(refreshToken);

  const browser = new Browser();
  const request = await authorizationRequest(rp);
  const login = await go(browser, rp, request.url);
  const uid = /\/interaction\/([^/]+)\/login/.exec(login.html)![1]!;
  const forgot = await open(browser, new URL(linkTo(login.html, /^\/password\/forgot\?/)!, login.url));
  t.is(forgot.status, 200);
  t.is(findForm(forgot.html, '/password/forgot').fields.return_to, `/interaction/${uid}`);
  const sent = await submit(browser, forgot, '/password/forgot', { email: user.email });
  t.is(sent.status, 200);
  t.true(sent.html.includes(`If an account uses <strong translate="no">${user.email}</strong>, we&#39;ve sent a link`));

  const mail = await smtp.next(user.email);
  t.is(mail.subject, 'Reset your password');
  t.true(mail.text.includes('lasts 30 minutes'));
  t.true(mail.html.includes('Choose a new password'));
  const link = linkIn(mail, '/password/reset');
  t.is(link.origin, server.issuer);

  // A refused password leaves the link working.
  const form = await open(browser, link);
  t.is(form.status, 200);
  t.true(form.html.includes(user.email));
  const weak = await submit(browser, form, '/password/reset', { password: 'short' });
  t.is(weak.status, 400);
  t.regex(weak.html, /<p class="field-error" id="password-error">The password must be at least 8 characters\.<\/p>/);

  const password = newPassword();
  const changed = await submit(browser, weak, '/password/reset', { password });
  t.is(changed.status, 200);
  t.true(changed.html.includes('Password changed'));
  t.is(linkTo(changed.html, /^\/interaction\//), `/interaction/${uid}`);

  // Used once: neither the page nor the form takes it again.
  const reopened = await open(new Browser(), link);
  t.is(reopened.status, 400);
  t.true(reopened.html.includes('This link is no longer valid'));
  t.is((await submit(browser, form, '/password/reset', { password: newPassword() })).status, 400);

  await expectInvalidGrant(t, oidc.refreshTokenGrant(rp.config, refreshToken!));

  let step: Step = await go(browser, rp, new URL(`/interaction/${uid}`, server.issuer));
  t.true(isLoginPage(step));
  const old = await submitLogin(browser, rp, step, user);
  t.is(old.response.status, 401);
  step = await submitLogin(browser, rp, step, { email: user.email, password });
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  t.true(step.url.href.startsWith(rp.redirectUri), step.html);
  t.is((await redeem(rp, step.url, request)).claims()!.sub, user.id);
});

test('a newer reset link retires the older one', async (t) => {
  const user = await createTestUser(server);
  const first = await requestResetLink(user.email);
  const second = await requestResetLink(user.email);
  t.is((await open(new Browser(), first)).status, 400);
  t.is((await open(new Browser(), second)).status, 200);
});

test('a reset link stops working when the account moves to another address; a new password ends pending reset and email-change links', async (t) => {
  const moving = await createTestUser(server);
  const sentToOldAddress = await requestResetLink(moving.email);
  const address = `moved-${randomBytes(4).toString('hex')}@example.com`;
  await requestEmailChange(server.deps, testActor, moving.id, address);
  const confirm = linkIn(await smtp.next(address), '/verify-email');
  await verifyEmail(server.deps, testActor, confirm.searchParams.get('token')!);
  t.is((await open(new Browser(), sentToOldAddress)).status, 400);

  const changing = await createTestUser(server);
  const beforeChange = await requestResetLink(changing.email);
  // An email change asked for from a stolen session: the owner's new password must cancel it.
  const elsewhere = `elsewhere-${randomBytes(4).toString('hex')}@example.com`;
  await requestEmailChange(server.deps, testActor, changing.id, elsewhere);
  const pendingChange = linkIn(await smtp.next(elsewhere), '/verify-email');
  await setUserPassword(server.deps, testActor, changing.id, { password: newPassword() });
  t.is((await open(new Browser(), beforeChange)).status, 400);
  await t.throwsAsync(verifyEmail(server.deps, testActor, pendingChange.searchParams.get('token')!), { message: /no longer valid/ });
  t.is((await findUserByEmail(server.deps.db.knex, changing.email))?.id, changing.id);
});

test('a reset without the form token is refused and leaves the link and the password as they were', async (t) => {
  const user = await createTestUser(server);
  const browser = new Browser();
  await open(browser, '/password/forgot');
  const noToken = await browser.post(`${server.issuer}/password/forgot`, { email: user.email });
  t.is(noToken.status, 403);
  t.true((await noToken.text()).includes('This form has expired'));
  t.is(await outboxCount(user.email), 0);

  const link = await requestResetLink(user.email);
  const page = await open(browser, link);
  const { _csrf: _, ...withoutToken } = findForm(page.html, '/password/reset').fields;
  const refused = await browser.post(`${server.issuer}/password/reset`, { ...withoutToken, password: newPassword() });
  t.is(refused.status, 403);
  t.is((await open(browser, link)).status, 200);
  const stored = await findUserByEmail(server.deps.db.knex, user.email);
  t.true(await server.deps.passwords.verify(stored!.passwordHash!, user.password));
});

// Serial: it moves the process clock.
test.serial('an expired reset link is refused', async (t) => {
  const user = await createTestUser(server);
  const link = await requestResetLink(user.email);
  try {
    advanceClock(server.config.accounts.resetLinkTtl + 1);
    const page = await open(new Browser(), link);
    t.is(page.status, 400);
    t.true(page.html.includes('This link is no longer valid: it has expired or has already been used.'));
  } finally {
    resetClock();
  }
});

interface ResetAttempt {
  status: number;
  html: string;
  cookieNames: string[];
  argon2: number;
  mails: number;
}

/** One reset request from a fresh browser, counting the argon2 work and the mail it cost. */
async function attemptReset(email: string): Promise<ResetAttempt> {
  const browser = new Browser();
  const page = await open(browser, '/password/forgot?return_to=/interaction/some-uid');
  const form = findForm(page.html, '/password/forgot');
  const passwords = server.deps.passwords;
  const { hash, verify } = passwords;
  let argon2 = 0;
  passwords.hash = (password) => {
    argon2 += 1;
    return hash(password);
  };
  passwords.verify = (stored, password) => {
    argon2 += 1;
    return verify(stored, password);
  };
  const before = await outboxCount();
  try {
    const response = await browser.post(new URL(form.action, page.url), { ...form.fields, email });
    const html = (await response.text()).replaceAll(form.fields._csrf!, '{csrf}').replaceAll(email, '{email}');
    const cookieNames = response.headers.getSetCookie().map((line) => line.slice(0, line.indexOf('=')));
    return { status: response.status, html, cookieNames, argon2, mails: (await outboxCount()) - before };
  } finally {
    passwords.hash = hash;
    passwords.verify = verify;
  }
}

// Serial: it wraps the shared password hasher and counts the whole outbox while it measures.
test.serial('a reset request for an unknown address looks and costs the same as for a known one', async (t) => {
  const user = await createTestUser(server);
  const stranger = `nobody-${randomBytes(5).toString('hex')}@example.com`;
  const known = await attemptReset(user.email);
  const unknown = await attemptReset(stranger);

  t.is(known.status, 200);
  t.true(known.html.includes('{email}'));
  t.deepEqual(unknown, known);
  t.is(known.mails, 1);

  const told = await smtp.next(stranger);
  t.is(told.subject, 'Your password reset request');
  t.true(told.text.includes('no account uses this address'));
  t.false(/\/signup|\/password\/reset/.test(told.text), 'no sign-up link while sign-up is off, and no reset link');
  t.is((await smtp.next(user.email)).subject, 'Reset your password');
});

test('repeated reset requests for one address are throttled with the time to wait', async (t) => {
  const user = await createTestUser(server);
  const allowed = server.config.throttle.failures;
  const browser = new Browser();
  const page = await open(browser, '/password/forgot');
  for (let attempt = 1; attempt <= allowed; attempt += 1) {
    t.is((await submit(browser, page, '/password/forgot', { email: user.email })).status, 200, `request ${attempt}`);
  }
  const throttled = await submit(browser, page, '/password/forgot', { email: user.email });
  t.is(throttled.status, 429);
  t.regex(throttled.html, /Too many attempts\. Try again in \d+ seconds\./);
  t.regex(throttled.headers.get('retry-after') ?? '', /^\d+$/);
  t.true(throttled.html.includes(`value="${user.email}"`), 'the form is shown again with the address');

  // The limit is the address's: another address from the same network still gets through.
  t.is((await submit(browser, page, '/password/forgot', { email: `other-${randomBytes(4).toString('hex')}@example.com` })).status, 200);
  // Throttled requests send nothing: one mail per allowed request.
  for (let mail = 1; mail <= allowed; mail += 1) await smtp.next(user.email);
  t.is(await outboxCount(user.email), allowed);
});

test('a reset link confirms the address of a self-service account that had not confirmed it', async (t) => {
  const email = `unconfirmed-${randomBytes(5).toString('hex')}@example.com`;
  await createUser(server.deps, testActor, { email, password: newPassword(), emailVerified: false }, { createdVia: 'signup' });
  const link = await requestResetLink(email);
  const browser = new Browser();
  const changed = await submit(browser, await open(browser, link), '/password/reset', { password: newPassword() });
  t.is(changed.status, 200);
  t.is((await findUserByEmail(server.deps.db.knex, email))?.emailVerified, true);
});
