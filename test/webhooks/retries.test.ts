import { randomBytes } from 'node:crypto';
import test from 'ava';
import { Webhook } from 'standardwebhooks';
import { loadConfig } from '../../src/config.js';
import type { Deps } from '../../src/deps.js';
import { listAuditEvents } from '../../src/domain/audit.js';
import { createUser } from '../../src/domain/users.js';
import { createWebhook, deleteWebhook, getWebhook, listWebhookDeliveries, redeliverWebhook, rotateWebhookSecret } from '../../src/domain/webhooks.js';
import { deliverDueWebhooks, RETRY_DELAYS_SECONDS } from '../../src/jobs/webhook-delivery.js';
import { testActor } from '../helpers/actor.js';
import { advanceClock, resetClock } from '../helpers/clock.js';
import { startTestServer, testEnv, type TestServer } from '../helpers/server.js';
import { startReceiver, type ReceivedDelivery, type TestReceiver } from '../helpers/webhook-receiver.js';

// Deliveries here are made by calling one pass of the job, with the clock moved instead of
// waiting: the servers' own delivery loops are set to an hour.

let server: TestServer;
/** The same server's dependencies under an address policy that allows nothing private, as on a node configured so. */
let strict: Deps;

test.before(async () => {
  server = await startTestServer({ LATCHKEY_WEBHOOK_POLL_INTERVAL: '1h' });
  strict = { ...server.deps, config: loadConfig({ ...testEnv, ...server.database.env, LATCHKEY_WEBHOOK_ALLOWED_NETWORKS: 'none' }) };
});

test.after.always(async () => {
  resetClock();
  await server?.dispose();
});

test.afterEach.always(() => resetClock());

async function subscribe(t: { teardown(fn: () => Promise<void>): void }, url?: (receiver: TestReceiver) => string) {
  const receiver = await startReceiver();
  const { webhook, secret } = await createWebhook(server.deps, testActor, { url: url ? url(receiver) : receiver.url, eventTypes: ['user.created'] });
  receiver.secret = secret;
  t.teardown(async () => {
    await deleteWebhook(server.deps, testActor, webhook.id).catch(() => undefined);
    await receiver.close();
  });
  return { receiver, webhook };
}

const newUser = () => createUser(server.deps, testActor, { email: `retry-${randomBytes(5).toString('hex')}@example.com`, password: 'correct horse battery' });

/**
 * Moves the clock just past when the webhook's next pending delivery is due; returns the gap
 * since that delivery's last attempt, in seconds.
 */
async function advanceToNextAttempt(webhookId: string): Promise<number> {
  const pending = (await listWebhookDeliveries(server.deps, webhookId)).items.filter((delivery) => delivery.status === 'pending');
  const next = pending.sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime())[0];
  if (!next) throw new Error('no delivery is pending');
  advanceClock(Math.max(0, (next.nextAttemptAt.getTime() - Date.now()) / 1000) + 0.01);
  return (next.nextAttemptAt.getTime() - (next.attemptLog.at(-1)?.attemptedAt ?? next.createdAt).getTime()) / 1000;
}

test.serial('a failing receiver is retried with growing gaps until it answers, with the same event id', async (t) => {
  const { receiver, webhook } = await subscribe(t);
  receiver.respond = () => (receiver.deliveries.length < 4 ? 500 : 204);
  await newUser();

  t.is(await deliverDueWebhooks(server.deps), 1);
  const gaps: number[] = [];
  for (let attempt = 2; attempt <= 4; attempt += 1) {
    t.is(await deliverDueWebhooks(server.deps), 0, 'nothing is due before the gap has passed');
    gaps.push(await advanceToNextAttempt(webhook.id));
    t.is(await deliverDueWebhooks(server.deps), 1);
  }
  for (const [index, gap] of gaps.entries()) {
    const base = RETRY_DELAYS_SECONDS[index]!;
    t.true(gap >= base && gap <= base * 1.1 + 1, `gap ${index + 1} is ${gap}s, around ${base}s`);
    if (index > 0) t.true(gap > gaps[index - 1]!, 'each gap is longer than the one before');
  }

  t.is(receiver.deliveries.length, 4);
  t.true(receiver.deliveries.every((delivery) => delivery.verified), 'every attempt is signed at its own time and verifies');
  t.is(new Set(receiver.deliveries.map((delivery) => delivery.id)).size, 1, 'one event, one id, on every attempt');
  const [delivery] = (await listWebhookDeliveries(server.deps, webhook.id)).items;
  t.like(delivery, { status: 'succeeded', attempts: 4, lastStatusCode: 204 });
  t.deepEqual(
    delivery!.attemptLog.map((attempt) => [attempt.attempt, attempt.statusCode, attempt.succeeded]),
    [
      [1, 500, false],
      [2, 500, false],
      [3, 500, false],
      [4, 204, true],
    ],
  );
  t.is((await getWebhook(server.deps, webhook.id)).failingSince, null, 'a success clears the failing record');

  // An admin sends it again: a new delivery of the same event, same id.
  const again = await redeliverWebhook(server.deps, testActor, delivery!.id, webhook.id);
  t.not(again.id, delivery!.id);
  t.is(await deliverDueWebhooks(server.deps), 1);
  t.is(receiver.deliveries.at(-1)!.id, receiver.deliveries[0]!.id);
});

test.serial('an endpoint that fails for the whole retry window is disabled, audited, and stops receiving', async (t) => {
  const { receiver, webhook } = await subscribe(t);
  receiver.respond = () => 503;
  // One event: an endpoint with little traffic is switched off as surely as a busy one.
  await newUser();
  await deliverDueWebhooks(server.deps);
  let second = false;
  for (let pass = 0; pass < 30 && (await getWebhook(server.deps, webhook.id)).enabled; pass += 1) {
    const [first] = (await listWebhookDeliveries(server.deps, webhook.id)).items;
    if (!second && first!.attempts === RETRY_DELAYS_SECONDS.length) {
      // A second event just before the end: given up with the endpoint, not retried forever.
      await newUser();
      second = true;
    }
    await advanceToNextAttempt(webhook.id);
    await deliverDueWebhooks(server.deps);
  }
  const deliveries = (await listWebhookDeliveries(server.deps, webhook.id)).items;
  t.is(deliveries.length, 2);
  const exhausted = deliveries.at(-1)!;
  t.like(exhausted, { attempts: RETRY_DELAYS_SECONDS.length + 1, status: 'failed' });
  const window = (exhausted.attemptLog.at(-1)!.attemptedAt.getTime() - exhausted.attemptLog[0]!.attemptedAt.getTime()) / 3_600_000;
  t.true(window > 20 && window < 30, `retried over ${window.toFixed(1)} hours`);
  t.like(deliveries[0], { status: 'failed', lastError: 'the webhook was disabled after failing repeatedly' });

  const disabled = await getWebhook(server.deps, webhook.id);
  t.false(disabled.enabled);
  t.regex(disabled.disabledReason!, /every attempt failed from .* HTTP 503/);
  const audit = (await listAuditEvents(server.deps, { type: 'webhook.disabled', subjectId: webhook.id })).items;
  t.is(audit.length, 1);
  t.like(audit[0], { actorType: 'system', outcome: 'failure' });

  const before = receiver.deliveries.length;
  await newUser();
  advanceClock(3600);
  t.is(await deliverDueWebhooks(server.deps), 0);
  t.is(receiver.deliveries.length, before, 'a disabled endpoint gets nothing');
});

test.serial('an address allowed at registration is refused at delivery when it no longer is', async (t) => {
  // Registered while loopback was allowed; the strict node's policy (as after a DNS change) refuses it.
  const { receiver, webhook } = await subscribe(t, (receiver) => receiver.url.replace('127.0.0.1', 'localhost'));
  await newUser();
  t.is(await deliverDueWebhooks(strict), 1);
  t.is(receiver.deliveries.length, 0, 'no request reached the address');
  const [refused] = (await listWebhookDeliveries(server.deps, webhook.id)).items;
  t.like(refused, { status: 'pending', attempts: 1, lastStatusCode: null });
  t.regex(refused!.lastError!, /^localhost resolves to (127\.0\.0\.1|::1), a loopback, private, link-local or reserved address/);

  // The same delivery from a node that allows loopback goes through: the policy decided it.
  await advanceToNextAttempt(webhook.id);
  t.is(await deliverDueWebhooks(server.deps), 1);
  t.is(receiver.deliveries.length, 1);
  t.true(receiver.deliveries[0]!.verified);
});

test.serial('after a rotation with a grace period both secrets sign until it ends; after it, only the new one', async (t) => {
  const { receiver, webhook } = await subscribe(t);
  const oldSecret = receiver.secret!;
  const { secret: newSecret } = await rotateWebhookSecret(server.deps, testActor, webhook.id, { graceSeconds: 3600 });
  await newUser();
  await deliverDueWebhooks(server.deps);
  const during = receiver.deliveries.at(-1)!;
  t.true(during.verified, 'the receiver still on the old secret verifies');
  t.is(during.signature.split(' ').length, 2);
  const headers = (delivery: ReceivedDelivery) => ({ 'webhook-id': delivery.id, 'webhook-timestamp': delivery.timestamp, 'webhook-signature': delivery.signature });
  t.notThrows(() => new Webhook(newSecret).verify(during.body, headers(during)), 'a receiver already on the new secret verifies too');

  advanceClock(3601);
  await newUser();
  await deliverDueWebhooks(server.deps);
  const after = receiver.deliveries.at(-1)!;
  t.is(after.signature.split(' ').length, 1);
  t.false(after.verified, 'the old secret no longer verifies');
  t.notThrows(() => new Webhook(newSecret).verify(after.body, headers(after)));
  t.not(oldSecret, newSecret);
});

test.serial('a redirect is not followed', async (t) => {
  const { receiver, webhook } = await subscribe(t);
  receiver.respond = () => 307;
  await newUser();
  await deliverDueWebhooks(server.deps);
  const [delivery] = (await listWebhookDeliveries(server.deps, webhook.id)).items;
  t.like(delivery, { status: 'pending', lastStatusCode: 307, lastError: 'redirects are not followed (HTTP 307)' });
  t.is(receiver.deliveries.length, 1);
});

test.serial('a receiver that hangs does not hold up deliveries to the others', async (t) => {
  const quick = { ...server.deps, config: loadConfig({ ...testEnv, ...server.database.env, LATCHKEY_WEBHOOK_TIMEOUT: '1s' }) };
  const { receiver: stuck, webhook: stuckWebhook } = await subscribe(t);
  stuck.respond = () => 'hang';
  const { receiver: healthy } = await subscribe(t);
  for (let index = 0; index < 10; index += 1) await newUser();
  const pass = deliverDueWebhooks(quick);
  await healthy.waitFor(10);
  // Every healthy delivery arrived while the stuck receiver still held its first requests open.
  t.is(stuck.deliveries.length, 4, 'at most four requests at once to one receiver');
  t.true((await listWebhookDeliveries(server.deps, stuckWebhook.id)).items.every((delivery) => delivery.attemptLog.length === 0));
  t.is(await pass, 20);
  t.is(stuck.deliveries.length, 10);
});

test.serial('two workers on one database take each delivery once', async (t) => {
  const { receiver } = await subscribe(t);
  for (let index = 0; index < 30; index += 1) await newUser();
  const [first, second] = await Promise.all([deliverDueWebhooks(server.deps), deliverDueWebhooks(server.deps)]);
  t.is(first! + second!, 30);
  t.is(receiver.deliveries.length, 30);
  t.is(new Set(receiver.deliveries.map((delivery) => delivery.id)).size, 30);
});
