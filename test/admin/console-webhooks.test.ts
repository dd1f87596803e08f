import { randomBytes, randomUUID } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { createUser, updateUser } from '../../src/domain/users.js';
import { createWebhook, getWebhook } from '../../src/domain/webhooks.js';
import { testActor } from '../helpers/actor.js';
import { Browser, findForm, openPage, signInThrough, type Page } from '../helpers/browser.js';
import { untranslatedText } from '../helpers/pseudo.js';
import { createTestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver, type ReceivedDelivery, type TestReceiver } from '../helpers/webhook-receiver.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer({ LATCHKEY_WEBHOOK_POLL_INTERVAL: '100ms' });
});

test.after.always(async () => {
  await server?.dispose();
});

const unique = () => randomBytes(4).toString('hex');

/** An admin signed in to the console on Latchkey's own sign-in page, as a browser would; `languages` is its Accept-Language. */
async function consoleAdmin(on: TestServer, languages?: string): Promise<Browser> {
  const user = await createTestUser(on);
  await updateUser(on.deps, testActor, user.id, { isAdmin: true });
  const browser = new Browser(fetch, languages);
  await signInThrough(browser, `${on.issuer}/admin`, user);
  return browser;
}

const open = (browser: Browser, path: string, on: TestServer = server) => openPage(browser, `${on.issuer}${path}`);

/** Posts a form as a browser does, a name repeated for each checked box. */
async function post(browser: Browser, url: string, fields: Array<[string, string]>): Promise<Page> {
  const response = await browser.request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return { url: new URL(url), status: response.status, html: await response.text(), headers: response.headers };
}

/** Submits the form on `page` that posts to `action`, with its CSRF token. */
async function submit(browser: Browser, page: Page, action: string, fields: Array<[string, string]> = []): Promise<Page> {
  const form = findForm(page.html, action);
  return post(browser, new URL(form.action, page.url).href, [['_csrf', form.fields._csrf!], ...fields]);
}

/** Follows a 303 after an action to the page it names. */
async function after(t: ExecutionContext, browser: Browser, answer: Page, on: TestServer = server): Promise<Page> {
  t.is(answer.status, 303, answer.html);
  return open(browser, answer.headers.get('location')!, on);
}

const secretOn = (html: string) => /class="secret-value"[^>]*>([^<]+)</.exec(html)?.[1];
const webhookIdOn = (html: string) => /Webhook ID<\/dt><dd><code>([^<]+)</.exec(html)?.[1];

/** Resolves with the first verified delivery `matches`, as the receiver gets them. */
async function received(receiver: TestReceiver, matches: (delivery: ReceivedDelivery) => boolean, timeoutMs = 15_000): Promise<ReceivedDelivery> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = receiver.deliveries.find((delivery) => delivery.verified && matches(delivery));
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no matching delivery; received ${receiver.deliveries.length}, ${receiver.deliveries.filter((delivery) => delivery.verified).length} verified`);
}

/** The delivery log once `ready` holds (the delivery job records attempts after the receiver has answered). */
async function deliveryLog(browser: Browser, webhookId: string, ready: (html: string) => boolean): Promise<Page> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const page = await open(browser, `/admin/webhooks/${webhookId}/deliveries`);
    if (ready(page.html) || Date.now() > deadline) return page;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const createdUser = (email: string) => (delivery: ReceivedDelivery) =>
  delivery.payload?.type === 'user.created' && (delivery.payload.data.user as { email: string }).email === email;

// Serial: it counts what reaches its receiver, and other tests sign in (creating users) as they go.
test.serial('an admin creates a webhook, sees its secret once, reads its delivery log, redelivers, disables, edits, rotates and deletes it', async (t) => {
  const browser = await consoleAdmin(server);
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());

  const list = await open(browser, '/admin/webhooks');
  t.is(list.status, 200);
  t.true(list.html.includes('<h1>Webhooks</h1>'));
  t.true(list.html.includes('aria-current="page">Webhooks</a>'), 'the section is in the console nav');

  const form = await open(browser, '/admin/webhooks/new');
  t.is(form.status, 200);
  t.true(form.html.includes('<legend>Events to send'));
  t.regex(form.html, /<input type="checkbox" id="event-all" name="eventTypes" value="\*"[^>]*>\s*<label for="event-all">All events \(<code translate="no">\*<\/code>\)<\/label>/);
  t.regex(form.html, /<label for="event-user-created" translate="no">user.created<\/label>\s*<p class="field-hint" id="event-user-created-hint">A user was created: by an admin, by signing up, or by an import.<\/p>/);
  t.regex(form.html, /<input type="checkbox" id="enabled" name="enabled" value="on" checked/);

  const description = `Billing sync ${unique()}`;
  const created = await submit(browser, form, '/admin/webhooks', [
    ['url', receiver.url],
    ['description', description],
    ['eventTypes', 'user.created'],
    ['enabled', 'on'],
  ]);
  t.is(created.status, 200, created.html);
  t.true(created.html.includes('<h1>Webhook created</h1>'));
  t.true(created.html.includes('this is the only time Latchkey shows it'));
  const secret = secretOn(created.html);
  const webhookId = webhookIdOn(created.html);
  t.regex(secret ?? '', /^whsec_/);
  t.truthy(webhookId);
  receiver.secret = secret;
  const stored = await getWebhook(server.deps, webhookId!);
  t.is(stored.url, receiver.url);
  t.is(stored.description, description);
  t.deepEqual(stored.eventTypes, ['user.created']);
  t.true(stored.enabled);

  // Shown once: neither the list nor the webhook's page has it.
  const listed = await open(browser, '/admin/webhooks');
  t.true(listed.html.includes(`<code translate="no">${receiver.url}</code>`));
  t.true(listed.html.includes(description));
  t.regex(listed.html, /<li><code>user.created<\/code><\/li>/);
  t.false(listed.html.includes(secret!));
  const details = await open(browser, `/admin/webhooks/${webhookId}`);
  t.is(details.status, 200);
  t.true(details.html.includes(`<h1><code translate="no">${receiver.url}</code></h1>`));
  t.true(details.html.includes('<span class="badge ok">Enabled</span>'));
  t.false(details.html.includes(secret!));
  t.false(details.html.includes('whsec_'));

  // An event: the receiver gets it, and the log shows the attempt.
  const email = `wh-console-${unique()}@example.com`;
  await createUser(server.deps, testActor, { email, password: `correct horse ${unique()}` });
  const first = await received(receiver, createdUser(email));
  const eventId = first.payload!.id;
  t.is(first.id, eventId);
  const log = await deliveryLog(browser, webhookId!, (html) => html.includes('Delivered'));
  t.is(log.status, 200);
  t.true(log.html.includes('<h1>Delivery log</h1>'));
  t.true(log.html.includes(`<code translate="no">${eventId}</code>`));
  t.regex(log.html, /<th scope="row"><code translate="no">user.created<\/code><\/th>/);
  t.regex(log.html, /<span class="badge ok">Delivered<\/span>/);
  t.regex(log.html, /<span class="attempt-number">Attempt 1<\/span>\s*<span class="badge ok">Succeeded<\/span>\s*<span class="attempt-facts"><span translate="no">[\d-]+ [\d:]+ UTC<\/span> · HTTP 204 · \d+ ms<\/span>/);
  t.regex(log.html, /role="region" tabindex="0" aria-labelledby="table-caption"/);

  // Redelivered: the same event, with the same id, again.
  const action = /action="(\/admin\/webhooks\/[^"]+\/deliveries\/\d+\/redeliver)"/.exec(log.html)?.[1];
  t.truthy(action);
  const redelivered = await after(t, browser, await submit(browser, log, action!));
  t.true(redelivered.html.includes(`The <span translate="no">user.created</span> event <span translate="no">${eventId}</span> is queued to be delivered again.`));
  await receiver.waitFor(2);
  const again = receiver.deliveries.filter((delivery) => delivery.verified);
  t.is(again.length, 2);
  t.is(again[1]!.id, eventId);
  t.is(again[1]!.payload!.id, eventId);
  const twice = await deliveryLog(browser, webhookId!, (html) => html.split('<span class="badge ok">Delivered</span>').length === 3);
  t.is(twice.html.split(`<code translate="no">${eventId}</code>`).length, 3, 'two deliveries of the one event');

  // Disabled by an admin: nothing to redeliver, and a redelivery posted anyway is refused, readably.
  const disabled = await after(t, browser, await submit(browser, details, `/admin/webhooks/${webhookId}/disable`));
  t.true(disabled.html.includes(`Disabled the webhook <span translate="no">${receiver.url}</span>`));
  t.true(disabled.html.includes('<span class="badge">Disabled by an admin</span>'));
  t.false((await getWebhook(server.deps, webhookId!)).enabled);
  const disabledLog = await open(browser, `/admin/webhooks/${webhookId}/deliveries`);
  t.true(disabledLog.html.includes('This webhook is disabled'));
  t.false(disabledLog.html.includes('/redeliver"'));
  const refused = await submit(browser, log, action!);
  t.is(refused.status, 400);
  t.regex(refused.html, /<div class="alert" role="alert">\s*<p class="alert-title">Not redelivered<\/p>\s*<p>the webhook is disabled: enable it before redelivering<\/p>/);

  const enabled = await after(t, browser, await submit(browser, disabled, `/admin/webhooks/${webhookId}/enable`));
  t.true(enabled.html.includes(`Enabled the webhook <span translate="no">${receiver.url}</span>`));
  t.true(enabled.html.includes('<span class="badge ok">Enabled</span>'));
  t.true((await getWebhook(server.deps, webhookId!)).enabled);

  // Edited: every event, a new description.
  const saved = await after(t, browser, await submit(browser, enabled, `/admin/webhooks/${webhookId}`, [
    ['url', receiver.url],
    ['description', `${description} (all)`],
    ['eventTypes', '*'],
    ['eventTypes', 'user.deleted'],
  ]));
  t.true(saved.html.includes(`Saved <span translate="no">${receiver.url}</span>.`));
  t.regex(saved.html, /id="event-all" name="eventTypes" value="\*" checked/);
  t.notRegex(saved.html, /id="event-user-deleted" name="eventTypes" value="user.deleted" checked/);
  t.deepEqual((await getWebhook(server.deps, webhookId!)).eventTypes, ['*']);
  t.true((await open(browser, '/admin/webhooks')).html.includes('All events'));

  // A new secret, shown once; what is sent from then on is signed with it.
  const confirm = await open(browser, `/admin/webhooks/${webhookId}/rotate`);
  t.is(confirm.status, 200);
  t.true(confirm.html.includes('<h1>Rotate the signing secret?</h1>'));
  const rotated = await submit(browser, confirm, `/admin/webhooks/${webhookId}/rotate`);
  t.is(rotated.status, 200);
  t.true(rotated.html.includes('<h1>New signing secret</h1>'));
  t.true(rotated.html.includes('The previous secret no longer works'));
  const newSecret = secretOn(rotated.html);
  t.regex(newSecret ?? '', /^whsec_/);
  t.not(newSecret, secret);
  t.false((await open(browser, `/admin/webhooks/${webhookId}`)).html.includes(newSecret!));
  receiver.secret = newSecret;
  const later = `wh-console-${unique()}@example.com`;
  await createUser(server.deps, testActor, { email: later, password: `correct horse ${unique()}` });
  t.truthy(await received(receiver, createdUser(later)));

  // Deleted, after a confirmation.
  const deletion = await open(browser, `/admin/webhooks/${webhookId}/delete`);
  t.is(deletion.status, 200);
  t.true(deletion.html.includes('<h1>Delete this webhook?</h1>'));
  t.true(deletion.html.includes(`Latchkey stops sending to <code translate="no">${receiver.url}</code> at once`));
  const deleted = await after(t, browser, await submit(browser, deletion, `/admin/webhooks/${webhookId}/delete`));
  t.is(deleted.url.pathname, '/admin/webhooks');
  t.true(deleted.html.includes('The webhook was deleted, with its delivery log.'));
  t.false(deleted.html.includes(receiver.url));
  const gone = await open(browser, `/admin/webhooks/${webhookId}`);
  t.is(gone.status, 404);
  t.true(gone.html.includes(`no webhook with id ${webhookId}`));

  const audit = await open(browser, '/admin/audit');
  for (const type of ['webhook.created', 'webhook.redelivered', 'webhook.updated', 'webhook.secret_rotated', 'webhook.deleted']) t.true(audit.html.includes(type), type);
});

test('a URL on a private address is refused beside the field, with everything typed kept, in the admin’s language', async (t) => {
  const strict = await startTestServer({ LATCHKEY_WEBHOOK_ALLOWED_NETWORKS: 'none' });
  t.teardown(() => strict.dispose());
  const typed: Array<[string, string]> = [
    ['url', 'http://127.0.0.1:8080/hook'],
    ['description', 'Kept <as> typed'],
    ['eventTypes', 'user.created'],
    ['eventTypes', 'client.deleted'],
  ];

  const browser = await consoleAdmin(strict);
  const refused = await submit(browser, await open(browser, '/admin/webhooks/new', strict), '/admin/webhooks', typed);
  t.is(refused.status, 400);
  t.regex(refused.html, /<div class="alert" role="alert">\s*<p class="alert-title">This could not be saved.<\/p>\s*<p>Some details need changing: see the fields below.<\/p>/);
  t.regex(refused.html, /<input id="url" name="url" type="url" value="http:\/\/127.0.0.1:8080\/hook"[^>]* aria-describedby="url-hint url-error" aria-invalid="true">/);
  t.true(
    refused.html.includes(
      '<p class="field-error" id="url-error">127.0.0.1 resolves to 127.0.0.1, a loopback, private, link-local or reserved address; webhooks are only delivered to public addresses (LATCHKEY_WEBHOOK_ALLOWED_NETWORKS lists exceptions)</p>',
    ),
  );
  t.true(refused.html.includes('value="Kept &lt;as&gt; typed"'));
  t.regex(refused.html, /id="event-user-created" name="eventTypes" value="user.created" checked/);
  t.regex(refused.html, /id="event-client-deleted" name="eventTypes" value="client.deleted" checked/);
  t.notRegex(refused.html, /id="event-user-deleted" name="eventTypes" value="user.deleted" checked/);
  t.notRegex(refused.html, /id="enabled" name="enabled" value="on" checked/, 'the box left unchecked stays unchecked');

  const german = await consoleAdmin(strict, 'de');
  const auf = await submit(german, await open(german, '/admin/webhooks/new', strict), '/admin/webhooks', typed);
  t.is(auf.status, 400);
  t.true(auf.html.includes('127.0.0.1 löst sich in 127.0.0.1 auf, eine Loopback-, private, Link-Local- oder reservierte Adresse'));

  // A host that does not resolve, and a form with no event chosen: each said beside its field.
  const nowhere = await submit(browser, await open(browser, '/admin/webhooks/new', strict), '/admin/webhooks', [
    ['url', 'https://nowhere.invalid/hook'],
    ['description', ''],
  ]);
  t.is(nowhere.status, 400);
  t.regex(nowhere.html, /<p class="field-error" id="eventTypes-error">must name at least one event type, or \* for all<\/p>/);
  t.true(nowhere.html.includes('value="https://nowhere.invalid/hook"'));
  const none = await strict.deps.db.knex('webhook_endpoints').count({ count: '*' });
  t.is(Number((none[0] as { count: unknown }).count), 0, 'nothing was created');
});

test('a webhook Latchkey switched off shows why and since when, on the list and on its page, until an admin enables it', async (t) => {
  const { webhook } = await createWebhook(server.deps, testActor, { url: `http://127.0.0.1:9/switched-off-${unique()}`, eventTypes: ['user.deleted'] });
  const reason = 'every attempt failed from 2025-03-01T08:00:00.000Z to 2025-03-02T07:36:00.000Z; last: connect ECONNREFUSED 127.0.0.1:9';
  await server.deps.db.knex('webhook_endpoints').where({ id: webhook.id }).update({ enabled: false, disabled_reason: reason, failing_since: new Date('2025-03-01T08:00:00Z') });

  const browser = await consoleAdmin(server);
  const list = await open(browser, '/admin/webhooks');
  t.regex(list.html, /<div class="alert">\s*<p class="alert-title">Latchkey switched off webhooks that kept failing:<\/p>/);
  t.true(list.html.includes(`<li><a href="/admin/webhooks/${webhook.id}" translate="no">${webhook.url}</a></li>`));
  const row = new RegExp(`<tr class="failure">\\s*<th scope="row"><code translate="no">${webhook.url}</code></th>[\\s\\S]*?</tr>`).exec(list.html)?.[0];
  t.truthy(row, list.html);
  t.true(row!.includes('<span class="badge danger">Switched off by Latchkey</span>'));
  t.true(row!.includes(`<strong>Why:</strong> <span translate="no">${reason}</span>`));
  t.true(row!.includes('Failing since 2025-03-01 08:00:00 UTC'));

  const page = await open(browser, `/admin/webhooks/${webhook.id}`);
  t.regex(page.html, /<p class="alert-title">Latchkey switched this webhook off because it kept failing<\/p>/);
  t.true(page.html.includes(reason));
  t.regex(page.html, /<button type="submit" class="button small primary" aria-describedby="sending-hint">Enable webhook<\/button>/);

  // German: the reason Latchkey wrote is in German too, its data (the times, the error) as they were.
  const german = await open(await consoleAdmin(server, 'de'), '/admin/webhooks');
  t.true(german.html.includes('<span class="badge danger">Von Latchkey abgeschaltet</span>'));
  t.true(german.html.includes('jeder Versuch schlug fehl, von 2025-03-01T08:00:00.000Z bis 2025-03-02T07:36:00.000Z; zuletzt: connect ECONNREFUSED 127.0.0.1:9'));

  const enabled = await after(t, browser, await submit(browser, page, `/admin/webhooks/${webhook.id}/enable`));
  t.true(enabled.html.includes('<span class="badge ok">Enabled</span>'));
  t.false(enabled.html.includes('Switched off by Latchkey'));
  const row2 = await getWebhook(server.deps, webhook.id);
  t.true(row2.enabled);
  t.is(row2.disabledReason, null);
});

test('an unknown webhook or delivery is a readable 404; a POST without the CSRF token is refused', async (t) => {
  const browser = await consoleAdmin(server);
  for (const path of [`/admin/webhooks/${randomUUID()}`, '/admin/webhooks/not-a-uuid', `/admin/webhooks/${randomUUID()}/deliveries`, `/admin/webhooks/${randomUUID()}/rotate`]) {
    const page = await open(browser, path);
    t.is(page.status, 404, path);
    t.regex(page.html, /no webhook with id /, path);
  }
  // An event no test here causes, so its log stays empty.
  const { webhook } = await createWebhook(server.deps, testActor, { url: `http://127.0.0.1:9/unknown-${unique()}`, eventTypes: ['client.secret_rotated'] });
  const log = await open(browser, `/admin/webhooks/${webhook.id}/deliveries`);
  t.true(log.html.includes('Nothing has been sent to this webhook yet.'));
  const form = findForm(log.html, '/admin/logout');
  const missing = await post(browser, `${server.issuer}/admin/webhooks/${webhook.id}/deliveries/999999/redeliver`, [['_csrf', form.fields._csrf!]]);
  t.is(missing.status, 404);
  t.true(missing.html.includes('no webhook delivery with id 999999'));

  const forged = await post(browser, `${server.issuer}/admin/webhooks/${webhook.id}/delete`, [['_csrf', 'forged']]);
  t.is(forged.status, 403);
  const noToken = await post(browser, `${server.issuer}/admin/webhooks`, [['url', 'http://127.0.0.1:9/x'], ['eventTypes', '*']]);
  t.is(noToken.status, 403);
  t.truthy(await getWebhook(server.deps, webhook.id), 'still there');
});

test('the pages only a form’s answer shows are translated: the secret, a refused form, a refused redelivery, a failing delivery log', async (t) => {
  const browser = await consoleAdmin(server, 'en-XA');
  const check = (what: string, page: Page) => {
    t.true(page.html.includes('⟦'), `${what} is in the pseudo-locale`);
    t.deepEqual(untranslatedText(page.html), [], `${what} (${page.status}) shows text that is not in the translation table`);
  };

  const created = await submit(browser, await open(browser, '/admin/webhooks/new'), '/admin/webhooks', [
    ['url', `http://127.0.0.1:9/pseudo-${unique()}`],
    ['eventTypes', 'user.created'],
    ['enabled', 'on'],
  ]);
  t.is(created.status, 200);
  check('the new secret', created);
  const id = /href="\/admin\/webhooks\/([0-9a-f-]{36})"/.exec(created.html)?.[1];
  t.truthy(id);

  check('a refused form', await submit(browser, await open(browser, '/admin/webhooks/new'), '/admin/webhooks', [['url', 'ftp://x.example/'], ['description', 'a\u0001b']]));
  const details = await open(browser, `/admin/webhooks/${id}`);
  check('the rotated secret', await submit(browser, await open(browser, `/admin/webhooks/${id}/rotate`), `/admin/webhooks/${id}/rotate`));

  // A new user is an event; nothing answers at port 9, so its attempt fails and is retried.
  await createTestUser(server);
  const log = await deliveryLog(browser, id!, (html) => html.includes('attempt-error'));
  t.true(log.html.includes('attempt-error'), 'an attempt failed');
  check('a delivery log with a failed attempt', log);
  const action = /action="(\/admin\/webhooks\/[^"]+\/deliveries\/\d+\/redeliver)"/.exec(log.html)?.[1];
  t.truthy(action);
  await after(t, browser, await submit(browser, details, `/admin/webhooks/${id}/disable`));
  const refused = await submit(browser, log, action!);
  t.is(refused.status, 400);
  check('a refused redelivery', refused);
});
