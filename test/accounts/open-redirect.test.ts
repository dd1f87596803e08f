import { randomBytes } from 'node:crypto';
import test from 'ava';
import { safeReturnPath } from '../../src/http/return-path.js';
import { Browser, findForm, openPage, submitPage } from '../helpers/browser.js';
import { createTestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const HOSTILE = [
  'https://evil.example',
  'https://evil.example/interaction/abc',
  'http:/evil.example',
  '//evil.example',
  '//evil.example/interaction/abc',
  '/\\evil.example',
  '\\\\evil.example',
  '/interaction/../..',
  '/interaction/..',
  '/interaction/abc/../../admin',
  '/interaction/%2e%2e/%2e%2e',
  '/interaction/abc%2F%2Fevil.example',
  '/interaction//evil.example',
  '/account/..//evil.example',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  '/account\nLocation: https://evil.example',
  ' /account',
  '/accounts-evil',
  '/admin',
  '/',
  '',
  'data:text/html,<script>alert(1)</script>',
];

test('only same-origin paths to a sign-in in progress or the account page are return paths', (t) => {
  for (const value of HOSTILE) t.is(safeReturnPath(value), undefined, JSON.stringify(value));
  t.is(safeReturnPath(undefined), undefined);
  t.is(safeReturnPath(['/account']), undefined);
  for (const value of ['/interaction/Ab_c-123', '/account', '/account/sessions', '/account?tab=security']) t.is(safeReturnPath(value), value);
});

let server: TestServer;

test.before(async () => {
  // No SMTP: mail is held in the outbox, where the test reads it.
  server = await startTestServer({ LATCHKEY_SIGNUP: 'true' });
});

test.after.always(async () => {
  await server?.dispose();
});

const open = (browser: Browser, url: string | URL) => openPage(browser, url, server.issuer);
const submit = submitPage;




/**
 * The page without the layout's language switcher, whose links come back to the page itself
 * (its return_to holds the page's own address; /language keeps only same-origin paths).
 */
function withoutSwitcher(html: string): string {
  return html.replace(/<nav class="languages"[\s\S]*?<\/nav>/, '');
}

/** Every link on a page other than the layout's own (skip link, style sheets, language switcher): each must stay on this server. */
function links(html: string): string[] {
  return [...withoutSwitcher(html).matchAll(/href="([^"]*)"/g)].map((match) => match[1]!).filter((href) => !['#main', '/assets/latchkey.css', '/assets/theme.css'].includes(href));
}

async function heldLink(to: string, path: string): Promise<URL> {
  const mail = (await server.deps.db.knex('mail_outbox').where({ to_address: to }).orderBy('id', 'desc').first()) as { text_body: string } | undefined;
  const match = mail ? new RegExp(`https?://\\S+${path}\\?token=[\\w-]+`).exec(mail.text_body) : null;
  if (!match) throw new Error(`no ${path} link in the outbox for ${to}`);
  return new URL(match[0]);
}

const password = () => `open redirect phrase ${randomBytes(4).toString('hex')}`;

test('forms asked to return somewhere else keep no return path and link nowhere else', async (t) => {
  for (const page of ['/signup', '/password/forgot']) {
    for (const value of HOSTILE) {
      const shown = await open(new Browser(), `${page}?return_to=${encodeURIComponent(value)}`);
      t.is(shown.status, 200, `${page} ${value}`);
      t.false('return_to' in findForm(shown.html, page).fields, `${page} ${value}`);
      t.false(withoutSwitcher(shown.html).includes('evil.example'), `${page} ${value}`);
    }
  }
});

test('a forged return path posted with sign-up or a reset request is dropped; a real one is kept', async (t) => {
  for (const [returnTo, expected] of [
    ['https://evil.example', undefined],
    ['//evil.example', undefined],
    ['/\\evil.example', undefined],
    ['/interaction/kept-uid', '/interaction/kept-uid'],
  ] as const) {
    const browser = new Browser();
    const email = `redirect-${randomBytes(5).toString('hex')}@example.com`;
    const signup = await submit(browser, await open(browser, '/signup'), '/signup', { email, password: password(), return_to: returnTo });
    t.is(signup.status, 200);
    t.deepEqual(links(signup.html), expected ? [expected] : [], returnTo);
    const confirmPage = await open(browser, await heldLink(email, '/verify-email'));
    const confirmed = await submit(browser, confirmPage, '/verify-email', {});
    t.true(confirmed.html.includes('Email confirmed'));
    t.deepEqual(links(confirmed.html), expected ? [expected] : [], returnTo);

    const user = await createTestUser(server);
    const requested = await submit(browser, await open(browser, '/password/forgot'), '/password/forgot', { email: user.email, return_to: returnTo });
    t.is(requested.status, 200);
    t.deepEqual(links(requested.html), expected ? [expected] : [], returnTo);
    const resetPage = await open(browser, await heldLink(user.email, '/password/reset'));
    const changed = await submit(browser, resetPage, '/password/reset', { password: password() });
    t.true(changed.html.includes('Password changed'));
    t.deepEqual(links(changed.html), expected ? [expected] : [], returnTo);
  }
});
