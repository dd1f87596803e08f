import { randomBytes } from 'node:crypto';
import test from 'ava';
import * as oidc from 'openid-client';
import { listAuditEvents } from '../../src/domain/audit.js';
import { requestEmailChange } from '../../src/domain/email-verification.js';
import { LatchkeyError } from '../../src/errors.js';
import { findUserByEmail, findUserById } from '../../src/store/users.js';
import { testActor } from '../helpers/actor.js';
import { Browser, findForm, linkOn, openPage, submitPage } from '../helpers/browser.js';
import { authorizationRequest, createTestUser, go, isConsentPage, isLoginPage, redeem, registerRp, submitConsent, submitLogin, type Step } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { linkIn, startMailCatcher, type MailCatcher } from '../helpers/smtp.js';

let server: TestServer;
let smtp: MailCatcher;

test.before(async () => {
  smtp = await startMailCatcher();
  server = await startTestServer({ LATCHKEY_SMTP_URL: smtp.url, LATCHKEY_ENV: 'test', LATCHKEY_SIGNUP: 'true' });
});

test.after.always(async () => {
  await server?.dispose();
  await smtp?.close();
});

const open = (browser: Browser, url: string | URL) => openPage(browser, url, server.issuer);
const submit = submitPage;

function linkTo(html: string, pattern: RegExp): string {
  const href = linkOn(html, pattern);
  if (!href) throw new Error(`no link matching ${pattern} on the page:\n${html}`);
  return href;
}





const newEmail = () => `new-${randomBytes(5).toString('hex')}@example.com`;
const goodPassword = () => `correct horse ${randomBytes(4).toString('hex')}`;

test('a visitor signs up from the login page, confirms the address from the email and signs in to the application', async (t) => {
  const rp = await registerRp(server);
  const browser = new Browser();
  const request = await authorizationRequest(rp);
  const login = await go(browser, rp, request.url);
  t.true(isLoginPage(login));
  const uid = /\/interaction\/([^/]+)\/login/.exec(login.html)![1]!;

  const signup = await open(browser, new URL(linkTo(login.html, /^\/signup\?/), login.url));
  t.is(signup.status, 200);
  t.is(findForm(signup.html, '/signup').fields.return_to, `/interaction/${uid}`);
  const email = newEmail();
  const password = goodPassword();
  const sent = await submit(browser, signup, '/signup', { name: 'Nia Signup', email, password });
  t.is(sent.status, 200);
  t.true(sent.html.includes('Check your email'));
  t.true(sent.html.includes(email));

  // Before the address is confirmed the right password is not enough, and the page offers a new link.
  const refused = await submitLogin(browser, rp, login, { email, password });
  t.is(refused.response.status, 403);
  t.true(refused.html.includes('Confirm your email address before signing in.'));
  t.is(findForm(refused.html, '/verify-email/resend').fields.email, email);

  const mail = await smtp.next(email, (candidate) => candidate.subject === 'Confirm your email address');
  t.true(mail.text.includes('Hello Nia Signup'));
  t.true(mail.text.includes('lasts 1 day'));
  t.true(mail.html.includes('Confirm my email'));
  const link = linkIn(mail, '/verify-email');
  t.is(link.origin, server.issuer);
  t.regex(link.searchParams.get('token')!, /^[\w-]{43}$/);

  // Opening the link (as a mail scanner would) does not use it: the button does.
  const confirmPage = await open(browser, link);
  t.is(confirmPage.status, 200);
  t.true(confirmPage.html.includes(email));
  t.is((await open(new Browser(), link)).status, 200);
  const confirmed = await submit(browser, confirmPage, '/verify-email');
  t.is(confirmed.status, 200);
  t.true(confirmed.html.includes('Email confirmed'));
  const next = linkTo(confirmed.html, /^\/interaction\//);
  t.is(next, `/interaction/${uid}`);

  // The link worked once.
  const reused = await open(new Browser(), link);
  t.is(reused.status, 400);
  t.true(reused.html.includes('This link is no longer valid'));

  let step: Step = await go(browser, rp, new URL(next, server.issuer));
  t.true(isLoginPage(step));
  step = await submitLogin(browser, rp, step, { email, password });
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  t.true(step.url.href.startsWith(rp.redirectUri), step.html);
  const tokens = await redeem(rp, step.url, request);
  const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
  t.is(info.email, email);
  t.is(info.email_verified, true);
  t.is(info.name, 'Nia Signup');
  const account = await findUserByEmail(server.deps.db.knex, email);
  t.is(account?.createdVia, 'signup');
  const events = (await listAuditEvents(server.deps, { subjectId: account!.id })).items.map((event) => event.type);
  t.deepEqual([...events].reverse().slice(0, 4), ['user.created', 'user.signed_up', 'user.email_verified', 'user.signed_in']);
});

test('the login page sends a new confirmation link, and only the newest link works', async (t) => {
  const rp = await registerRp(server);
  const browser = new Browser();
  const login = await go(browser, rp, (await authorizationRequest(rp)).url);
  const email = newEmail();
  const password = goodPassword();
  const signup = await open(browser, new URL(linkTo(login.html, /^\/signup\?/), login.url));
  t.is((await submit(browser, signup, '/signup', { email, password })).status, 200);
  const first = linkIn(await smtp.next(email), '/verify-email');

  const refused = await submitLogin(browser, rp, login, { email, password });
  const resent = await submit(browser, refused, '/verify-email/resend');
  t.is(resent.status, 200);
  t.true(resent.html.includes('If that address needs confirming, we&#39;ve sent a new link'));
  const second = linkIn(await smtp.next(email), '/verify-email');
  t.not(second.href, first.href);

  t.is((await open(new Browser(), first)).status, 400);
  const page = await open(browser, second);
  const confirmed = await submit(browser, page, '/verify-email');
  t.is(confirmed.status, 200);
  t.is((await findUserByEmail(server.deps.db.knex, email))?.emailVerified, true);
});

test('a resend for an address that needs no confirming answers the same and sends nothing', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const browser = new Browser();
  const login = await go(browser, rp, (await authorizationRequest(rp)).url);
  const csrf = findForm(login.html, '/login').fields._csrf!;
  for (const email of [user.email, newEmail()]) {
    const response = await browser.post(`${server.issuer}/verify-email/resend`, { _csrf: csrf, email });
    t.is(response.status, 200);
    t.true((await response.text()).includes('If that address needs confirming, we&#39;ve sent a new link'));
    t.is(await outboxCount(email), 0);
  }
});

test('sign-up shows what is wrong beside each field and creates nothing', async (t) => {
  const browser = new Browser();
  const page = await open(browser, '/signup');
  const email = newEmail();

  const weak = await submit(browser, page, '/signup', { email, password: 'password1' });
  t.is(weak.status, 400);
  t.true(weak.html.includes('aria-describedby="password-hint password-error"'));
  t.regex(weak.html, /<p class="field-error" id="password-error">Password is one of the most common passwords/);
  t.true(weak.html.includes(`value="${email}"`), 'the address typed is kept');
  t.false(weak.html.includes('value="password1"'), 'the password is not sent back');

  const malformed = await submit(browser, page, '/signup', { email: 'not-an-address', password: goodPassword() });
  t.is(malformed.status, 400);
  t.regex(malformed.html, /<p class="field-error" id="email-error">Email is not an email address\.<\/p>/);

  t.is(await findUserByEmail(server.deps.db.knex, email), undefined);
  t.is(await outboxCount(email), 0);
});

test('a sign-up without the form token is refused and creates nothing', async (t) => {
  const browser = new Browser();
  const page = await open(browser, '/signup');
  const email = newEmail();
  const { _csrf: _, ...withoutToken } = findForm(page.html, '/signup').fields;
  const response = await browser.post(`${server.issuer}/signup`, { ...withoutToken, email, password: goodPassword() });
  t.is(response.status, 403);
  t.true((await response.text()).includes('This form has expired'));
  t.is(await findUserByEmail(server.deps.db.knex, email), undefined);
});

/** Mail queued so far, to one address or to anyone. */
async function outboxCount(to?: string): Promise<number> {
  const query = server.deps.db.knex('mail_outbox').count({ count: '*' });
  if (to !== undefined) query.where({ to_address: to });
  const row = (await query.first()) as { count: string | number };
  return Number(row.count);
}

interface SignupAttempt {
  status: number;
  html: string;
  cookieNames: string[];
  hashes: number;
  verifies: number;
  mails: number;
}

/** One sign-up from a fresh browser, counting the argon2 work and the mail it cost. */
async function attemptSignup(email: string): Promise<SignupAttempt> {
  const browser = new Browser();
  const page = await open(browser, '/signup?return_to=/interaction/some-uid');
  const form = findForm(page.html, '/signup');
  const passwords = server.deps.passwords;
  const { hash, verify } = passwords;
  let hashes = 0;
  let verifies = 0;
  passwords.hash = (password) => {
    hashes += 1;
    return hash(password);
  };
  // verifyDummy goes through verify too.
  passwords.verify = (stored, password) => {
    verifies += 1;
    return verify(stored, password);
  };
  const before = await outboxCount();
  try {
    const response = await browser.post(new URL(form.action, page.url), { ...form.fields, name: 'Same Name', email, password: goodPassword() });
    const html = (await response.text()).replaceAll(form.fields._csrf!, '{csrf}').replaceAll(email, '{email}');
    const cookieNames = response.headers.getSetCookie().map((line) => line.slice(0, line.indexOf('=')));
    return { status: response.status, html, cookieNames, hashes, verifies, mails: (await outboxCount()) - before };
  } finally {
    passwords.hash = hash;
    passwords.verify = verify;
  }
}

// Serial: it wraps the shared password hasher and counts the whole outbox while it measures.
test.serial('signing up with an address that has an account looks and costs the same as a new sign-up', async (t) => {
  const owner = await createTestUser(server);
  const fresh = newEmail();
  const taken = await attemptSignup(owner.email);
  const created = await attemptSignup(fresh);

  t.is(created.status, 200);
  t.true(created.html.includes('{email}'));
  t.deepEqual(taken, created);
  t.is(created.hashes, 1);
  t.is(created.mails, 1);

  // What differs is only what each inbox receives.
  const warning = await smtp.next(owner.email);
  t.is(warning.subject, 'You already have an account');
  t.true(warning.text.includes('Someone tried to create an account'));
  t.is(linkIn(warning, '/password/forgot').searchParams.get('return_to'), '/interaction/some-uid');
  t.false(/verify-email/.test(warning.text));
  t.is((await smtp.next(fresh)).subject, 'Confirm your email address');
  t.is((await findUserByEmail(server.deps.db.knex, owner.email))?.createdVia, 'admin', 'the existing account is untouched');
});

test('an email change takes effect only when the link sent to the new address is used', async (t) => {
  const user = await createTestUser(server);
  const other = await createTestUser(server);
  // An address another account uses gets the same answer; its link is refused when used.
  await requestEmailChange(server.deps, testActor, user.id, other.email.toUpperCase());
  const takenLink = linkIn(await smtp.next(other.email.toUpperCase()), '/verify-email');
  t.is((await smtp.next(user.email)).subject, 'Your email address is being changed');
  const refusedBrowser = new Browser();
  const refused = await submit(refusedBrowser, await open(refusedBrowser, takenLink), '/verify-email');
  t.is(refused.status, 409);
  t.is((await findUserById(server.deps.db.knex, user.id))?.email, user.email);
  const malformed = await t.throwsAsync(requestEmailChange(server.deps, testActor, user.id, 'not an address'), { instanceOf: LatchkeyError });
  t.deepEqual(malformed?.details, { email: 'is not an email address' });

  const address = newEmail();
  await requestEmailChange(server.deps, testActor, user.id, address);
  const mail = await smtp.next(address);
  t.is(mail.subject, 'Confirm your new email address');
  const notice = await smtp.next(user.email);
  t.is(notice.subject, 'Your email address is being changed');
  t.true(notice.text.includes(address), 'the current address is told where the account is moving');
  t.truthy(linkIn(notice, '/password/forgot'));
  t.true(mail.text.includes('your account keeps its current address'));
  t.is((await findUserById(server.deps.db.knex, user.id))?.email, user.email, 'unchanged until the link is used');

  const browser = new Browser();
  const confirmed = await submit(browser, await open(browser, linkIn(mail, '/verify-email')), '/verify-email');
  t.is(confirmed.status, 200);
  t.true(confirmed.html.includes(`Your account now uses <strong translate="no">${address}</strong>`));
  t.is(linkTo(confirmed.html, /^\/account/), '/account');
  const changed = await findUserById(server.deps.db.knex, user.id);
  t.is(changed?.email, address);
  t.true(changed?.emailVerified);
  const [latest] = (await listAuditEvents(server.deps, { subjectId: user.id })).items;
  t.is(latest?.type, 'user.email_changed');
});
