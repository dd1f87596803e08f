import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { Webhook } from 'standardwebhooks';
import { webhookReceiverOptionsFromEnv } from '../../examples/webhook-receiver/env.js';
import { HANDLED_EVENT_TYPES, type MailingListFile } from '../../examples/webhook-receiver/mailing-list.js';
import { startWebhookReceiver, type RunningWebhookReceiver } from '../../examples/webhook-receiver/receiver.js';
import { createUser, deleteUser, updateUser } from '../../src/domain/users.js';
import { createWebhook, deleteWebhook, listWebhookDeliveries, redeliverWebhook, type DeliveryWithAttempts } from '../../src/domain/webhooks.js';
import { testActor } from '../helpers/actor.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';

// Every test that registers a webhook gets the user events of the whole server, so they run
// one after the other, each deleting its webhook at the end.

let server: TestServer;
let directory: string;

test.before(async () => {
  server = await startTestServer({ LATCHKEY_WEBHOOK_POLL_INTERVAL: '100ms' });
  directory = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-webhook-receiver-'));
});

test.after.always(async () => {
  await server?.dispose();
  if (directory) await fs.rm(directory, { recursive: true, force: true });
});

interface Receiver {
  running: RunningWebhookReceiver;
  file: string;
  secret: string;
  log: string[];
}

async function startReceiver(t: ExecutionContext, secret = `whsec_${randomBytes(32).toString('base64')}`): Promise<Receiver> {
  const file = path.join(directory, randomBytes(4).toString('hex'), 'mailing-list.json');
  const log: string[] = [];
  const running = await startWebhookReceiver({ secret, port: 0, mailingListFile: file, log: (line) => log.push(line) });
  t.teardown(() => running.close());
  return { running, file, secret, log };
}

/** Registers the receiver with Latchkey as its README does, then starts it with the secret Latchkey made. */
async function registeredReceiver(t: ExecutionContext): Promise<Receiver & { webhookId: string }> {
  // The URL names the port, so it is chosen first; another test process can take it before the
  // receiver listens on it: then try another.
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const { webhook, secret } = await createWebhook(server.deps, testActor, { url: `http://127.0.0.1:${port}/webhooks`, eventTypes: [...HANDLED_EVENT_TYPES] });
    const file = path.join(directory, randomBytes(4).toString('hex'), 'mailing-list.json');
    const log: string[] = [];
    try {
      const running = await startWebhookReceiver({ secret, port, mailingListFile: file, log: (line) => log.push(line) });
      t.is(running.url, webhook.url);
      t.teardown(async () => {
        await deleteWebhook(server.deps, testActor, webhook.id);
        await running.close();
      });
      return { running, file, secret, log, webhookId: webhook.id };
    } catch (error) {
      await deleteWebhook(server.deps, testActor, webhook.id);
      if ((error as { code?: unknown }).code !== 'EADDRINUSE' || attempt === 3) throw error;
    }
  }
}

async function readList(file: string): Promise<MailingListFile> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as MailingListFile;
}

async function emails(file: string): Promise<string[]> {
  return (await readList(file)).subscribers.map((subscriber) => subscriber.email).sort();
}

/** Waits until Latchkey has made `count` deliveries to the webhook and none is still pending. */
async function settled(webhookId: string, count: number): Promise<DeliveryWithAttempts[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { items } = await listWebhookDeliveries(server.deps, webhookId, { limit: 100 });
    if (items.length >= count && items.every((delivery) => delivery.status !== 'pending')) return items;
    if (Date.now() > deadline) throw new Error(`deliveries: ${JSON.stringify(items.map((delivery) => [delivery.eventType, delivery.status, delivery.lastError]))}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function email(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}@example.com`;
}

const password = 'correct horse battery staple';

test.serial('verified users join the mailing list once each, the others when they verify; deleted users leave it', async (t) => {
  const receiver = await registeredReceiver(t);

  // Created verified (by an admin, as an import would) and at once: the receiver applies concurrent deliveries one at a time.
  const verified = await Promise.all(['ada', 'grace', 'alan'].map((label) => createUser(server.deps, testActor, { email: email(label), password, emailVerified: true })));
  const [unverified, neverVerified] = await Promise.all(['edsger', 'barbara'].map((label) => createUser(server.deps, testActor, { email: email(label), password })));
  let deliveries = await settled(receiver.webhookId, 5);
  t.true(deliveries.every((delivery) => delivery.status === 'succeeded' && delivery.eventType === 'user.created'));
  t.deepEqual(await emails(receiver.file), verified.map((user) => user.email).sort());

  await updateUser(server.deps, testActor, unverified!.id, { emailVerified: true });
  deliveries = await settled(receiver.webhookId, 6);
  t.is(deliveries[0]!.eventType, 'user.email_verified');
  t.deepEqual(await emails(receiver.file), [...verified, unverified!].map((user) => user.email).sort());

  await deleteUser(server.deps, testActor, verified[0]!.id);
  deliveries = await settled(receiver.webhookId, 7);
  t.is(deliveries[0]!.eventType, 'user.deleted');
  t.true(deliveries.every((delivery) => delivery.status === 'succeeded'));

  const list = await readList(receiver.file);
  const expected = [verified[1]!, verified[2]!, unverified!];
  t.deepEqual(
    list.subscribers.map((subscriber) => ({ user_id: subscriber.user_id, email: subscriber.email })).sort((a, b) => a.email.localeCompare(b.email)),
    expected.map((user) => ({ user_id: user.id, email: user.email })).sort((a, b) => a.email.localeCompare(b.email)),
  );
  t.false(list.subscribers.some((subscriber) => subscriber.user_id === neverVerified!.id));
  // Written by rename: no temporary file is left beside the list.
  t.deepEqual(await fs.readdir(path.dirname(receiver.file)), ['mailing-list.json']);
  t.is((await fs.stat(receiver.file)).mode & 0o777, 0o600);
});

test.serial('an event Latchkey redelivers is applied once', async (t) => {
  const receiver = await registeredReceiver(t);
  const user = await createUser(server.deps, testActor, { email: email('margaret'), password, emailVerified: true });
  const [first] = await settled(receiver.webhookId, 1);
  t.deepEqual(await emails(receiver.file), [user.email]);
  const before = await fs.readFile(receiver.file, 'utf8');

  const again = await redeliverWebhook(server.deps, testActor, first!.id);
  t.is(again.eventId, first!.eventId);
  const deliveries = await settled(receiver.webhookId, 2);
  t.true(deliveries.every((delivery) => delivery.status === 'succeeded' && delivery.eventId === first!.eventId));
  // Acknowledged (2xx, so Latchkey stops) and nothing written.
  t.is(await fs.readFile(receiver.file, 'utf8'), before);
  t.deepEqual(
    receiver.log.filter((line) => line.includes(first!.eventId)),
    [`user.created ${first!.eventId}: subscribed ${user.email}`, `user.created ${first!.eventId}: already processed: nothing to do`],
  );
});

/** A request as Latchkey makes one, signed with `secret` at `signedAt`. */
function signedRequest(secret: string, event: { id: string; type: string; data: Record<string, unknown>; timestamp?: string }, signedAt = new Date()) {
  const body = JSON.stringify({ timestamp: new Date().toISOString(), ...event });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': event.id,
      'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(event.id, signedAt, body),
    },
  };
}

async function post(receiver: Receiver, request: { body: string; headers: Record<string, string> }): Promise<number> {
  const response = await fetch(receiver.running.url, { method: 'POST', body: request.body, headers: request.headers });
  await response.body?.cancel();
  return response.status;
}

function verifiedUser(address: string, id = `user-${randomBytes(4).toString('hex')}`) {
  const at = new Date().toISOString();
  return { id, email: address, email_verified: true, name: null, disabled: false, created_at: at, updated_at: at };
}

function messageId(): string {
  return `msg_${randomBytes(16).toString('hex')}`;
}

test.serial('a request with a bad signature or an old timestamp is refused with 401 and changes nothing', async (t) => {
  const receiver = await startReceiver(t);
  const before = await fs.readFile(receiver.file, 'utf8');
  const event = { id: messageId(), type: 'user.email_verified', data: { user: verifiedUser(email('mallory')) } };
  const good = signedRequest(receiver.secret, event);

  const signature = good.headers['webhook-signature'];
  const tamperedSignature = { ...good, headers: { ...good.headers, 'webhook-signature': `${signature.slice(0, -6)}${signature.slice(-6, -5) === 'A' ? 'B' : 'A'}${signature.slice(-5)}` } };
  const tamperedBody = { ...good, body: good.body.replace('mallory', 'eve') };
  const otherId = { ...good, headers: { ...good.headers, 'webhook-id': messageId() } };
  const anotherSecret = signedRequest(`whsec_${randomBytes(32).toString('base64')}`, event);
  const old = signedRequest(receiver.secret, event, new Date(Date.now() - 10 * 60_000));
  const future = signedRequest(receiver.secret, event, new Date(Date.now() + 10 * 60_000));
  const unsigned = { body: good.body, headers: { 'content-type': 'application/json' } };

  for (const [name, request] of Object.entries({ tamperedSignature, tamperedBody, otherId, anotherSecret, old, future, unsigned })) {
    t.is(await post(receiver, request), 401, name);
  }
  t.is(await fs.readFile(receiver.file, 'utf8'), before);
  t.true(receiver.log.some((line) => line.endsWith('Message timestamp too old')));

  // The same event, signed properly, is taken.
  t.is(await post(receiver, good), 204);
  t.deepEqual(await emails(receiver.file), [event.data.user.email]);
});

test.serial('events arriving out of order do not bring back a deleted user or an older address', async (t) => {
  const receiver = await startReceiver(t);
  const earlier = new Date(Date.now() - 60_000).toISOString();
  const later = new Date().toISOString();

  const gone = verifiedUser(email('deleted'));
  t.is(await post(receiver, signedRequest(receiver.secret, { id: messageId(), type: 'user.deleted', timestamp: later, data: { user: gone } })), 204);
  t.is(await post(receiver, signedRequest(receiver.secret, { id: messageId(), type: 'user.email_verified', timestamp: earlier, data: { user: gone } })), 204);
  t.deepEqual(await emails(receiver.file), []);

  const moved = verifiedUser(email('new-address'));
  t.is(await post(receiver, signedRequest(receiver.secret, { id: messageId(), type: 'user.email_verified', timestamp: later, data: { user: moved } })), 204);
  const older = { ...moved, email: email('old-address') };
  t.is(await post(receiver, signedRequest(receiver.secret, { id: messageId(), type: 'user.email_verified', timestamp: earlier, data: { user: older } })), 204);
  t.deepEqual(await emails(receiver.file), [moved.email]);

  // An unverified user created, and event types the list does not act on, change nothing.
  const pending = { ...verifiedUser(email('pending')), email_verified: false };
  t.is(await post(receiver, signedRequest(receiver.secret, { id: messageId(), type: 'user.created', data: { user: pending, created_via: 'signup' } })), 204);
  t.is(await post(receiver, signedRequest(receiver.secret, { id: messageId(), type: 'user.signed_in', data: { user: verifiedUser(email('other')), client_id: null } })), 204);
  t.deepEqual(await emails(receiver.file), [moved.email]);
});

test.serial('only POST /webhooks is served, and a signed body that is not an event is refused', async (t) => {
  const receiver = await startReceiver(t);
  const base = new URL(receiver.running.url);
  const elsewhere = await fetch(new URL('/other', base));
  t.is(elsewhere.status, 404);
  await elsewhere.body?.cancel();
  const get = await fetch(base);
  t.is(get.status, 405);
  t.is(get.headers.get('allow'), 'POST');
  await get.body?.cancel();

  const id = messageId();
  const at = new Date();
  for (const body of ['not json', '{"id":"x"}']) {
    const headers = { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(receiver.secret).sign(id, at, body) };
    t.is(await post(receiver, { body, headers }), 400, body);
  }
  t.deepEqual(await emails(receiver.file), []);
});

test('the receiver names a missing or malformed setting on one line', (t) => {
  const missing = t.throws(() => webhookReceiverOptionsFromEnv({}));
  t.is(
    missing.message,
    'cannot start the webhook receiver: WEBHOOK_SECRET is not set: give the signing secret (whsec_...) that `latchkey webhooks create` printed (see examples/webhook-receiver/README.md)',
  );
  const wrong = t.throws(() => webhookReceiverOptionsFromEnv({ WEBHOOK_SECRET: 'not-a-secret', PORT: '70000' }));
  t.notRegex(wrong.message, /\n/);
  t.regex(wrong.message, /WEBHOOK_SECRET is not a webhook signing secret/);
  t.regex(wrong.message, /PORT is not a port number \(0-65535\): 70000/);
  t.throws(() => webhookReceiverOptionsFromEnv({ WEBHOOK_SECRET: 'whsec_abc' }), { message: /WEBHOOK_SECRET is not a webhook signing secret/ });
});

test('the receiver listens on 4500 and keeps mailing-list.json in the current directory unless told otherwise', (t) => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  t.deepEqual(webhookReceiverOptionsFromEnv({ WEBHOOK_SECRET: secret }), { secret, port: 4500, mailingListFile: path.resolve('mailing-list.json') });
  t.like(webhookReceiverOptionsFromEnv({ WEBHOOK_SECRET: ` ${secret} `, PORT: '4600', MAILING_LIST_FILE: '/tmp/list.json' }), {
    secret,
    port: 4600,
    mailingListFile: '/tmp/list.json',
  });
});
