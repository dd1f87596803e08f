import { randomBytes } from 'node:crypto';
import test from 'ava';
import { loadConfig } from '../../src/config.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { createUser } from '../../src/domain/users.js';
import { createWebhook, deleteWebhook, listWebhookDeliveries, type DeliveryWithAttempts } from '../../src/domain/webhooks.js';
import { testActor } from '../helpers/actor.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { spawnServer, waitUntilServing, type ServerProcess } from '../helpers/processes.js';
import { freePort, testEnv } from '../helpers/server.js';
import { startReceiver, type TestReceiver } from '../helpers/webhook-receiver.js';

// Real `latchkey serve` processes over one PostgreSQL deliver webhooks: the outbox and the
// SKIP LOCKED claim are what keep each event delivered once in normal operation and delivered
// at all when a node dies holding one.

let database: TestDatabase;
let env: Record<string, string>;
let setup: Deps;

test.before(async () => {
  database = await createTestDatabase();
  // A short attempt timeout keeps the dead node's lease (twice the timeout and 5 s) short.
  env = { ...database.env, LATCHKEY_WEBHOOK_POLL_INTERVAL: '100ms', LATCHKEY_WEBHOOK_TIMEOUT: '2s' };
  setup = await createDeps(loadConfig({ ...testEnv, ...env }));
});

test.after.always(async () => {
  await setup?.db.close();
  await database?.drop();
});

async function startNode(t: { teardown(fn: () => Promise<unknown>): void }): Promise<ServerProcess> {
  const node = spawnServer(env, await freePort());
  t.teardown(() => node.stop());
  await waitUntilServing(node);
  return node;
}

async function subscribe(t: { teardown(fn: () => Promise<void>): void }): Promise<{ receiver: TestReceiver; webhookId: string }> {
  const receiver = await startReceiver();
  const { webhook, secret } = await createWebhook(setup, testActor, { url: receiver.url, eventTypes: ['user.created'] });
  receiver.secret = secret;
  t.teardown(async () => {
    // A test may have deleted it already.
    await deleteWebhook(setup, testActor, webhook.id).catch(() => undefined);
    await receiver.close();
  });
  return { receiver, webhookId: webhook.id };
}

async function deliveriesWhen(webhookId: string, settled: (items: DeliveryWithAttempts[]) => boolean): Promise<DeliveryWithAttempts[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { items } = await listWebhookDeliveries(setup, webhookId, { limit: 1000 });
    if (settled(items) || Date.now() > deadline) return items;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const newUser = () => createUser(setup, testActor, { email: `node-${randomBytes(5).toString('hex')}@example.com`, password: 'correct horse battery' });

test.serial('two nodes deliver each event once', async (t) => {
  await Promise.all([startNode(t), startNode(t)]);
  const { receiver, webhookId } = await subscribe(t);
  const users = [];
  for (let index = 0; index < 40; index += 1) users.push(await newUser());
  await receiver.waitFor(40);
  // Every delivery recorded as done: none is left that either node could send again.
  await deliveriesWhen(webhookId, (items) => items.length === 40 && items.every((item) => item.status === 'succeeded'));
  t.is(receiver.deliveries.length, 40);
  t.is(new Set(receiver.deliveries.map((delivery) => delivery.id)).size, 40);
  t.deepEqual(receiver.deliveries.map((delivery) => (delivery.payload!.data.user as { id: string }).id).sort(), users.map((user) => user.id).sort());
});

test.serial('a change whose event meets a webhook being deleted waits for the delete and commits, without an error', async (t) => {
  const { webhookId } = await subscribe(t);
  const deleting = await setup.db.knex.transaction();
  await deleting('webhook_endpoints').where({ id: webhookId }).delete();
  // The user's own change emits while the delete is not yet committed.
  const creating = newUser();
  await new Promise((resolve) => setTimeout(resolve, 200));
  await deleting.commit();
  const user = await creating;
  t.truthy(await setup.db.knex('users').where({ id: user.id }).first(), 'the change committed');
  t.is((await setup.db.knex('webhook_deliveries').where({ endpoint_id: webhookId })).length, 0);
});

test.serial('a node killed mid-delivery loses nothing: after a restart the event arrives, with the same id', async (t) => {
  const port = await freePort();
  const first = spawnServer(env, port);
  t.teardown(() => first.kill());
  await waitUntilServing(first);
  const { receiver, webhookId } = await subscribe(t);
  // The first request is held open, as by a slow receiver, while the node holding it dies.
  receiver.respond = () => (receiver.deliveries.length === 1 ? 'hang' : 204);
  await newUser();
  const deadline = Date.now() + 10_000;
  while (receiver.deliveries.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(receiver.deliveries.length, 1, 'the first attempt reached the receiver');
  await first.kill();

  const [inFlight] = (await listWebhookDeliveries(setup, webhookId)).items;
  t.like(inFlight, { status: 'pending', attempts: 1 });
  t.is(inFlight!.attemptLog.length, 0, 'the dead node recorded nothing');

  const restarted = spawnServer(env, port);
  t.teardown(() => restarted.stop());
  await waitUntilServing(restarted);
  const [, delivered] = await receiver.waitFor(2, 30_000);
  t.is(delivered!.id, receiver.deliveries[0]!.id, 'the same event id, so the receiver can tell it is the same event');
  // The attempt is recorded just after the receiver answered it.
  const [done] = await deliveriesWhen(webhookId, (items) => items[0]?.status !== 'pending');
  t.like(done, { status: 'succeeded', attempts: 2 });
});
