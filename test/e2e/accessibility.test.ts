import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createResource } from '../../src/domain/resources.js';
import { updateUser } from '../../src/domain/users.js';
import { createWebhook } from '../../src/domain/webhooks.js';
import { deliverDueWebhooks } from '../../src/jobs/webhook-delivery.js';
import { testActor } from '../helpers/actor.js';
import { authorizationRequest, createTestUser, registerRp, type TestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { linkIn, startMailCatcher, type MailCatcher } from '../helpers/smtp.js';
import { assertNoBlockingViolations, auditPage } from './support/axe.js';
import { launchBrowser, newContext, phone, screenshot, startStubApp, type StubApp } from './support/browser.js';
import { consentForm, fillLogin, loginForm, navigateBy, openSignedIn, signInToRp } from './support/flows.js';

// What the functions run in the page use of it; tsconfig has no DOM library (the code is Node's).
declare const document: { documentElement: { scrollWidth: number } };
declare const window: { innerWidth: number };

let server: TestServer;
let browser: Browser;
let app: StubApp;
let smtp: MailCatcher;

test.before(async () => {
  smtp = await startMailCatcher();
  // Assigned one by one, so the after hook closes whatever did start when another part failed.
  await Promise.all([
    // Sign-up on, and a real mail server, so the sign-up and reset pages can be reached from their links.
    startTestServer({ LATCHKEY_SIGNUP: 'true', LATCHKEY_SMTP_URL: smtp.url, LATCHKEY_ENV: 'test' }).then((started) => (server = started)),
    launchBrowser().then((launched) => (browser = launched)),
    startStubApp().then((started) => (app = started)),
  ]);
});

test.after.always(async () => {
  await browser?.close();
  await server?.dispose();
  await app?.close();
  await smtp?.close();
});

/**
 * A fresh profile that lets axe in: the server's CSP refuses injected scripts, rightly, so
 * these contexts bypass it (the flow tests run under the real policy and check it holds).
 */
async function auditContext(t: ExecutionContext, options: { viewport?: { width: number; height: number } } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newContext(browser, { bypassCSP: true, ...options });
  t.teardown(() => context.close());
  return { context, page: await context.newPage() };
}

/**
 * Each test inspects pages with `inspect` (a screenshot, then axe) and ends with `verdict`: every
 * page is checked before the test fails, so one run lists all there is to fix.
 */
function inspector(t: ExecutionContext) {
  const reports: string[] = [];
  return {
    async inspect(page: Page, name: string): Promise<void> {
      await screenshot(t, page, name);
      const report = await auditPage(t, page, name);
      if (report) reports.push(report);
    },
    verdict: () => assertNoBlockingViolations(t, reports),
  };
}

const newRp = (name = 'Photo Album') => registerRp(server, { name, redirectUris: [app.callback], postLogoutRedirectUris: [app.signedOut] });

async function openLogin(page: Page): Promise<void> {
  const rp = await newRp();
  await page.goto((await authorizationRequest(rp)).url.href);
  if ((await loginForm(page).count()) !== 1) throw new Error(`no login page at ${page.url()}`);
}

test('login page, on a desktop and a phone, and with a refused password', async (t) => {
  const { inspect, verdict } = inspector(t);
  const { page } = await auditContext(t);
  await openLogin(page);
  await inspect(page, 'login');

  await fillLogin(page, { email: 'nobody@example.com', password: 'not the password' });
  await navigateBy(page, () => loginForm(page).locator('button[type=submit]').click());
  t.is(await loginForm(page).count(), 1, 'a wrong password shows the login page again');
  await inspect(page, 'login-refused');

  const narrow = await auditContext(t, { viewport: phone });
  await openLogin(narrow.page);
  await screenshot(t, narrow.page, 'login-narrow');
  // WCAG 1.4.10 (reflow): at 390 CSS pixels nothing makes the page scroll sideways.
  const widths = await narrow.page.evaluate(() => ({ content: document.documentElement.scrollWidth, viewport: window.innerWidth }));
  t.true(widths.content <= widths.viewport, `the login page fits a phone's width (content ${widths.content}px, viewport ${widths.viewport}px)`);
  verdict();
});

test('consent page', async (t) => {
  const { inspect, verdict } = inspector(t);
  const { page } = await auditContext(t);
  const user = await createTestUser(server);
  await openLogin(page);
  await fillLogin(page, user);
  await navigateBy(page, () => loginForm(page).locator('button[type=submit]').click());
  t.is(await consentForm(page).count(), 1, 'Latchkey asks for consent');
  await inspect(page, 'consent');
  verdict();
});

test('error page (authorization request from an unknown client)', async (t) => {
  const { inspect, verdict } = inspector(t);
  const { page } = await auditContext(t);
  const response = await page.goto(`${server.issuer}/auth?client_id=no-such-client&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(app.callback)}`);
  t.is(response?.status(), 400);
  await inspect(page, 'error-unknown-client');
  verdict();
});

test('sign-up pages: the form, "check your email", the confirmation from the email link, and confirmed', async (t) => {
  const { inspect, verdict } = inspector(t);
  const { page } = await auditContext(t);
  await page.goto(`${server.issuer}/signup`);
  await inspect(page, 'signup');

  const email = `new-${randomBytes(4).toString('hex')}@example.com`;
  const form = page.locator('form[action="/signup"]');
  await form.locator('#name').fill('Ada Signup');
  await form.locator('#email').fill(email);
  await form.locator('#password').fill(`correct horse ${randomBytes(4).toString('hex')}`);
  await navigateBy(page, () => form.locator('button[type=submit]').click());
  await inspect(page, 'signup-sent');

  await page.goto(linkIn(await smtp.next(email), '/verify-email').href);
  const confirm = page.locator('form[action="/verify-email"]');
  t.is(await confirm.count(), 1, 'the link opens the confirmation page');
  await inspect(page, 'verify-email');
  await navigateBy(page, () => confirm.locator('button[type=submit]').click());
  await inspect(page, 'email-confirmed');
  verdict();
});

test('password reset pages: forgot, link sent, and the reset form from the email link', async (t) => {
  const { inspect, verdict } = inspector(t);
  const { page } = await auditContext(t);
  const user = await createTestUser(server);
  await page.goto(`${server.issuer}/password/forgot`);
  await inspect(page, 'password-forgot');

  const form = page.locator('form[action="/password/forgot"]');
  await form.locator('#email').fill(user.email);
  await navigateBy(page, () => form.locator('button[type=submit]').click());
  await inspect(page, 'password-reset-sent');

  await page.goto(linkIn(await smtp.next(user.email), '/password/reset').href);
  t.is(await page.locator('form[action="/password/reset"] #password').count(), 1, 'the link opens the reset form');
  await inspect(page, 'password-reset');
  verdict();
});

test('account pages: profile, password, connected apps, sessions', async (t) => {
  const { inspect, verdict } = inspector(t);
  const { page } = await auditContext(t);
  const user = await createTestUser(server);
  // An app with access, so the connected apps page shows its table.
  await signInToRp(page, await newRp('Recipe Box'), user);
  for (const [path, name] of [
    ['/account', 'account-profile'],
    ['/account/password', 'account-password'],
    ['/account/apps', 'account-apps'],
    ['/account/sessions', 'account-sessions'],
  ] as const) {
    await openSignedIn(page, `${server.issuer}${path}`, user);
    await inspect(page, name);
  }
  verdict();
});

async function adminUser(): Promise<TestUser> {
  const user = await createTestUser(server);
  await updateUser(server.deps, testActor, user.id, { isAdmin: true });
  return user;
}

test('admin console pages', async (t) => {
  const { inspect, verdict } = inspector(t);
  const { page } = await auditContext(t);
  const [admin, user, rp] = await Promise.all([adminUser(), createTestUser(server), newRp('Inventory')]);
  await openSignedIn(page, `${server.issuer}/admin/clients`, admin);
  await inspect(page, 'admin-clients');

  await page.goto(`${server.issuer}/admin/clients/new`);
  await inspect(page, 'admin-client-new');
  const form = page.locator('form[method="post"][action="/admin/clients"]');
  await form.locator('#name').fill(`Reporting ${randomBytes(3).toString('hex')}`);
  await form.locator('#redirectUris').fill('https://reports.example/callback');
  await navigateBy(page, () => form.locator('button[type=submit]').click());
  await inspect(page, 'admin-client-created');

  // A form sent back with a problem: the error messages and aria-invalid fields.
  await page.goto(`${server.issuer}/admin/clients/new`);
  await form.locator('#name').fill('Broken');
  await form.locator('#redirectUris').fill('not a url');
  await navigateBy(page, () => form.locator('button[type=submit]').click());
  await inspect(page, 'admin-client-new-invalid');

  // An API with a realistic identifier: long URLs are what the console's tables must cope with.
  await createResource(server.deps, testActor, { identifier: `https://inventory-api.internal.example.com/v1/warehouses/${randomBytes(4).toString('hex')}/stock-levels`, scopes: ['stock:read'] });
  const mail = await server.deps.db.knex('mail_outbox').max('id as id').first();
  // A webhook Latchkey switched off, whose log has a failed attempt (nothing listens on port 9).
  const { webhook } = await createWebhook(server.deps, testActor, { url: 'http://127.0.0.1:9/hooks/crm', description: 'CRM sync', eventTypes: ['user.created', 'user.email_verified'] });
  await createTestUser(server);
  await deliverDueWebhooks(server.deps);
  await server.deps.db.knex('webhook_endpoints').where({ id: webhook.id }).update({ enabled: false, disabled_reason: 'every attempt failed for a day', failing_since: new Date() });
  const pages: [string, string][] = [
    [`/admin/clients/${encodeURIComponent(rp.clientId)}`, 'admin-client'],
    ['/admin/users', 'admin-users'],
    ['/admin/users/new', 'admin-user-new'],
    [`/admin/users/${user.id}`, 'admin-user'],
    ['/admin/resources', 'admin-resources'],
    ['/admin/resources/new', 'admin-resource-new'],
    ['/admin/tokens', 'admin-tokens'],
    ['/admin/tokens/new', 'admin-token-new'],
    ['/admin/audit', 'admin-audit'],
    ['/admin/mail', 'admin-mail'],
    ['/admin/webhooks', 'admin-webhooks'],
    ['/admin/webhooks/new', 'admin-webhook-new'],
    [`/admin/webhooks/${webhook.id}`, 'admin-webhook'],
    [`/admin/webhooks/${webhook.id}/deliveries`, 'admin-webhook-deliveries'],
    [`/admin/webhooks/${webhook.id}/rotate`, 'admin-webhook-rotate'],
  ];
  if (mail?.id) pages.push([`/admin/mail/${String(mail.id)}`, 'admin-mail-message']);
  for (const [path, name] of pages) {
    const response = await page.goto(`${server.issuer}${path}`);
    t.is(response?.status(), 200, path);
    await inspect(page, name);
  }
  verdict();
});
