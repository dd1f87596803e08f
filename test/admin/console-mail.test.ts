import { randomBytes } from 'node:crypto';
import test from 'ava';
import { queueMail } from '../../src/domain/mail.js';
import { updateUser } from '../../src/domain/users.js';
import { testActor } from '../helpers/actor.js';
import { Browser, openPage, signInThrough } from '../helpers/browser.js';
import { createTestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

const open = (browser: Browser, url: string | URL) => openPage(browser, url);



/** An admin signed in to the console on Latchkey's own sign-in page, as a browser would. */
async function consoleAdmin(on: TestServer): Promise<Browser> {
  const user = await createTestUser(on);
  await updateUser(on.deps, testActor, user.id, { isAdmin: true });
  const browser = new Browser();
  await signInThrough(browser, `${on.issuer}/admin`, user);
  return browser;
}

function resetMail(to: string, link: string, name = 'Ann') {
  return queueMail(server.deps, server.deps.db.knex, { to, subject: 'Reset your password', template: 'reset-password', locals: { link, lasts: '30 minutes', name } });
}

const unique = () => randomBytes(4).toString('hex');

test('with no SMTP server the Mail section lists held mail, newest first, under a banner saying so', async (t) => {
  const browser = await consoleAdmin(server);
  const [first, second] = [`first-${unique()}@example.com`, `second-${unique()}@example.com`];
  await resetMail(first, 'https://id.example/password/reset?token=one');
  await resetMail(second, 'https://id.example/password/reset?token=two');

  const list = await open(browser, `${server.issuer}/admin/mail`);
  t.is(list.status, 200);
  t.true(list.html.includes('<h1>Mail</h1>'));
  t.true(list.html.includes('aria-current="page">Mail</a>'), 'the section is in the console nav');
  t.true(list.html.includes('No SMTP server is configured (<code translate="no">LATCHKEY_SMTP_URL</code>); emails are held here.'));
  t.true(list.html.indexOf(second) < list.html.indexOf(first), 'newest first');
  t.regex(list.html, new RegExp(`<a href="/admin/mail/\\d+">Reset your password</a></th>\\s*<td translate="no">${second}</td>\\s*<td>Held</td>`));
});

test('a held mail shows its text with its links clickable, and everything in it escaped', async (t) => {
  const browser = await consoleAdmin(server);
  const to = `held-${unique()}@example.com`;
  const link = `https://id.example/password/reset?token=${unique()}&lang=en`;
  await resetMail(to, link, '<script>alert(1)</script>');
  const list = await open(browser, `${server.issuer}/admin/mail`);
  const path = new RegExp(`<a href="(/admin/mail/\\d+)">Reset your password</a></th>\\s*<td translate="no">${to}`).exec(list.html)?.[1];
  t.truthy(path, list.html);

  const mail = await open(browser, `${server.issuer}${path}`);
  t.is(mail.status, 200);
  t.true(mail.html.includes('<h1 translate="no">Reset your password</h1>'));
  t.true(mail.html.includes(`<dd translate="no">${to}</dd>`));
  const escapedLink = link.replace('&', '&amp;');
  t.true(mail.html.includes(`<a href="${escapedLink}">${escapedLink}</a>`), 'the reset link is a link');
  t.true(mail.html.includes('Hello &lt;script&gt;alert(1)&lt;/script&gt;,'));
  t.false(mail.html.includes('<script>'));
});

test('a link cannot break out of its attribute, and only http(s) addresses become links', async (t) => {
  const browser = await consoleAdmin(server);
  const to = `odd-${unique()}@example.com`;
  await resetMail(to, 'https://id.example/reset?x="onmouseover="alert(1) javascript:alert(2)');
  const list = await open(browser, `${server.issuer}/admin/mail`);
  const path = new RegExp(`<a href="(/admin/mail/\\d+)">Reset your password</a></th>\\s*<td translate="no">${to}`).exec(list.html)![1]!;
  const mail = await open(browser, `${server.issuer}${path}`);
  t.true(mail.html.includes('<a href="https://id.example/reset?x=">https://id.example/reset?x=</a>&#34;onmouseover=&#34;alert(1) javascript:alert(2)'));
  t.false(mail.html.includes('href="javascript:'));
});

test('an email that does not exist is a readable 404', async (t) => {
  const browser = await consoleAdmin(server);
  for (const id of ['999999999', 'not-a-number']) {
    const page = await open(browser, `${server.issuer}/admin/mail/${id}`);
    t.is(page.status, 404, id);
    t.true(page.html.includes(`no email with id ${id}`), id);
  }
});

// Serial: fifty mails would push the other tests' mail off the first page.
test.serial('the outbox pages through older mail', async (t) => {
  const browser = await consoleAdmin(server);
  const oldest = `oldest-${unique()}@example.com`;
  await resetMail(oldest, 'https://id.example/reset');
  for (let count = 0; count < 50; count += 1) await resetMail(`newer-${count}-${unique()}@example.com`, 'https://id.example/reset');
  const first = await open(browser, `${server.issuer}/admin/mail`);
  t.false(first.html.includes(oldest));
  const next = /<a class="button" href="(\?cursor=[^"]+)">Next page/.exec(first.html)?.[1];
  t.truthy(next);
  const second = await open(browser, `${server.issuer}/admin/mail${next!.replaceAll('&amp;', '&')}`);
  t.is(second.status, 200);
  t.true(second.html.includes(oldest));
});

test('with SMTP configured there is no banner', async (t) => {
  // Nothing listens there; no mail is queued on this server, so nothing is sent.
  const withSmtp = await startTestServer({ LATCHKEY_SMTP_URL: 'smtp://127.0.0.1:1' });
  try {
    const list = await open(await consoleAdmin(withSmtp), `${withSmtp.issuer}/admin/mail`);
    t.is(list.status, 200);
    t.false(list.html.includes('No SMTP server is configured'));
    t.true(list.html.includes('No emails yet.'));
  } finally {
    await withSmtp.dispose();
  }
});
