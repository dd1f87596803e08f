import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { Webhook } from 'standardwebhooks';
import type { webhookDeliveryJson } from '../../src/admin/shapes.js';
import { adminClientToken, adminFetch } from '../helpers/admin.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver, type ReceivedDelivery, type TestReceiver } from '../helpers/webhook-receiver.js';

let server: TestServer;
let admin: { token: string; rp: { clientId: string } };

test.before(async () => {
  server = await startTestServer({ LATCHKEY_WEBHOOK_POLL_INTERVAL: '100ms' });
  admin = await adminClientToken(server);
});

test.after.always(async () => {
  await server?.dispose();
});

const api = (path: string, init: { method?: string; body?: unknown } = {}) => adminFetch(server, admin.token, path, init);
const unique = () => randomBytes(4).toString('hex');
const MISSING_ID = '00000000-0000-4000-8000-000000000000';

type Json = Record<string, unknown>;

type DeliveryJson = ReturnType<typeof webhookDeliveryJson>;

async function receiverFor(t: ExecutionContext): Promise<TestReceiver> {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  return receiver;
}

/** A webhook nobody triggers in these tests, for what does not need a delivery. */
async function quietWebhook(extra: Json = {}): Promise<Json> {
  const created = await api('/webhooks', { method: 'POST', body: { url: `http://127.0.0.1:9/${unique()}`, event_types: ['user.locked_out'], ...extra } });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return created.body!;
}

async function createUser(email: string): Promise<void> {
  const created = await api('/users', { method: 'POST', body: { email, password: 'correct horse battery' } });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
}

/** The verified delivery of the user.created event for `email`, once it has arrived. */
async function deliveryOf(receiver: TestReceiver, email: string): Promise<ReceivedDelivery> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = receiver.deliveries.find((delivery) => (delivery.payload?.data.user as { email?: string } | undefined)?.email === email);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no verified delivery for ${email}; received ${receiver.deliveries.length}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The webhook's delivery log once `settled` holds: the attempt is written after the receiver answers. */
async function deliveriesWhen(id: string, settled: (items: DeliveryJson[]) => boolean): Promise<DeliveryJson[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const items = (await api(`/webhooks/${id}/deliveries`)).body!.items as DeliveryJson[];
    if (settled(items)) return items;
    if (Date.now() > deadline) throw new Error(`deliveries did not settle: ${JSON.stringify(items)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function auditTypes(subjectId: string): Promise<string[]> {
  const events = await api(`/audit-events?${new URLSearchParams({ subject_id: subjectId }).toString()}`);
  return (events.body!.items as Array<{ type: string }>).map((event) => event.type).reverse();
}

test('creating a webhook returns its secret once; reading and listing it never show a secret, sealed or not', async (t) => {
  const url = `http://127.0.0.1:9/hooks/${unique()}`;
  const created = await api('/webhooks', { method: 'POST', body: { url, description: ' CRM sync ', event_types: ['user.updated', 'user.created', 'user.created'] } });
  t.is(created.status, 201);
  t.is(created.headers.get('cache-control'), 'no-store');
  const body = created.body!;
  const secret = body.secret as string;
  t.regex(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  t.like(body, { url, description: 'CRM sync', event_types: ['user.created', 'user.updated'], enabled: true, disabled_reason: null, failing_since: null });
  const id = body.id as string;
  t.deepEqual(Object.keys(body).sort(), ['created_at', 'description', 'disabled_reason', 'enabled', 'event_types', 'failing_since', 'id', 'previous_secret_expires_at', 'secret', 'updated_at', 'url']);

  const sealed = ((await server.deps.db.knex('webhook_endpoints').where({ id }).first('sealed_secret')) as { sealed_secret: string }).sealed_secret;
  const read = await api(`/webhooks/${id}`);
  t.is(read.status, 200);
  const { secret: _secret, ...withoutSecret } = body;
  t.deepEqual(read.body, withoutSecret);
  const listed = await api('/webhooks?limit=1000');
  t.true((listed.body!.items as Json[]).some((item) => item.id === id));
  const audit = await api(`/audit-events?subject_id=${id}`);
  for (const text of [JSON.stringify(read.body), JSON.stringify(listed.body), JSON.stringify(audit.body)]) {
    t.false(text.includes(secret));
    t.false(text.includes(sealed));
    t.false(/"secret"|sealed/i.test(text), text);
  }
});

test('webhooks are listed oldest first, a page at a time', async (t) => {
  const first = await quietWebhook();
  const second = await quietWebhook();
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: Json | undefined } = await api(`/webhooks?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    t.is(page.status, 200);
    t.true((page.body!.items as Json[]).length <= 1);
    ids.push(...(page.body!.items as Json[]).map((item) => item.id as string));
    cursor = page.body!.next_cursor as string | null;
  } while (cursor);
  t.true(ids.indexOf(first.id as string) < ids.indexOf(second.id as string));
  t.is((await api('/webhooks?cursor=garbage')).status, 400);
});

test('bad input is a 400 naming the field, and nothing is written', async (t) => {
  const url = `http://127.0.0.1:9/refused/${unique()}`;
  const cases: Array<[Json, string, RegExp]> = [
    [{ url: 'not a url', event_types: ['user.created'] }, 'url', /http or https URL/],
    [{ url: 'ftp://hooks.example/in', event_types: ['user.created'] }, 'url', /http or https URL/],
    [{ url: 'https://user:pass@hooks.example/in', event_types: ['user.created'] }, 'url', /user name or password/],
    [{ url: 'https://hooks.example/in#part', event_types: ['user.created'] }, 'url', /fragment/],
    [{ url: 'http://127.0.0.1:9/x\u0000', event_types: ['user.created'] }, 'url', /control characters/],
    [{ url: 'http://127.0.0.1:9/\nx', event_types: ['user.created'] }, 'url', /control characters/],
    [{ event_types: ['user.created'] }, 'url', /is required/],
    [{ url, event_types: ['user.exploded'] }, 'event_types', /"user\.exploded" is not an event type/],
    [{ url, event_types: [] }, 'event_types', /at least one event type/],
    [{ url }, 'event_types', /is required/],
    [{ url, event_types: 'user.created' }, 'event_types', /array of strings/],
    [{ url, event_types: ['user.created'], enabled: 'yes' }, 'enabled', /true or false/],
    [{ url, event_types: ['user.created'], description: 'a\u0007b' }, 'description', /control characters/],
    [{ url, eventTypes: ['user.created'] }, 'eventTypes', /not a known field/],
  ];
  for (const [body, field, message] of cases) {
    const response = await api('/webhooks', { method: 'POST', body });
    t.is(response.status, 400, JSON.stringify(body));
    t.is(response.body!.code, 'input.invalid');
    const details = response.body!.details as Record<string, string>;
    t.true(field in details, `${JSON.stringify(body)} -> ${JSON.stringify(response.body)}`);
    t.regex(details[field]!, message);
    t.true((response.body!.error_description as string).includes(field));
  }

  const webhook = await quietWebhook();
  const id = webhook.id as string;
  for (const [body, field] of [[{ url: 'https://u:p@hooks.example/' }, 'url'], [{ event_types: [] }, 'event_types'], [{ enabled: null }, 'enabled'], [{ secret: 'whsec_x' }, 'secret']] as const) {
    const response = await api(`/webhooks/${id}`, { method: 'PATCH', body });
    t.is(response.status, 400, JSON.stringify(body));
    t.true(field in (response.body!.details as object), JSON.stringify(response.body));
  }
  t.deepEqual((await api(`/webhooks/${id}`)).body, (({ secret: _secret, ...rest }) => rest)(webhook));
  // Other tests add webhooks meanwhile: look for this test's URL only.
  t.false(((await api('/webhooks?limit=1000')).body!.items as Json[]).some((item) => item.url === url));
});

test('addresses on this machine, the private network or a metadata service are refused, and nothing is written', async (t) => {
  const strict = await startTestServer({ LATCHKEY_WEBHOOK_ALLOWED_NETWORKS: 'none' });
  t.teardown(() => strict.dispose());
  const { token } = await adminClientToken(strict);
  const port = new URL(strict.issuer).port;
  for (const url of [`http://127.0.0.1:${port}/`, 'http://[::1]/', 'http://localhost/', 'http://169.254.169.254/latest/meta-data/', 'http://10.1.2.3/']) {
    const response = await adminFetch(strict, token, '/webhooks', { method: 'POST', body: { url, event_types: ['*'] } });
    t.is(response.status, 400, url);
    t.is(response.body!.code, 'webhook.address_refused', url);
    t.regex(response.body!.error_description as string, /only delivered to public addresses/);
  }
  t.deepEqual((await adminFetch(strict, token, '/webhooks')).body!.items, []);
  const audit = await adminFetch(strict, token, '/audit-events?type=webhook.created');
  t.deepEqual(audit.body!.items, []);

  // Loopback is allowed here (outside production), a metadata service never.
  const webhook = await quietWebhook();
  const moved = await api(`/webhooks/${webhook.id as string}`, { method: 'PATCH', body: { url: 'http://169.254.169.254/latest/meta-data/' } });
  t.is(moved.status, 400);
  t.is(moved.body!.code, 'webhook.address_refused');
  t.is((await api(`/webhooks/${webhook.id as string}`)).body!.url, webhook.url);
});

test('PATCH changes what it is given and keeps the rest; disabling and enabling', async (t) => {
  const webhook = await quietWebhook({ description: 'before' });
  const id = webhook.id as string;
  const changed = await api(`/webhooks/${id}`, { method: 'PATCH', body: { url: 'http://127.0.0.1:9/moved', event_types: ['user.deleted', '*'] } });
  t.is(changed.status, 200);
  t.like(changed.body!, { url: 'http://127.0.0.1:9/moved', event_types: ['*'], description: 'before', enabled: true });
  t.false('secret' in changed.body!);

  const disabled = await api(`/webhooks/${id}`, { method: 'PATCH', body: { enabled: false } });
  t.like(disabled.body!, { enabled: false, url: 'http://127.0.0.1:9/moved' });
  t.is((await api(`/webhooks/${id}`)).body!.enabled, false);
  const enabled = await api(`/webhooks/${id}`, { method: 'PATCH', body: { enabled: true, description: '' } });
  t.like(enabled.body!, { enabled: true, description: '', disabled_reason: null, failing_since: null });

  const events = await api(`/audit-events?${new URLSearchParams({ subject_id: id, type: 'webhook.updated' }).toString()}`);
  const changes = (events.body!.items as Array<{ details: { changed: string[] }; actor: { id: string } }>).reverse();
  t.deepEqual(changes.map((event) => event.details.changed), [['url', 'event_types'], ['enabled'], ['description', 'enabled']]);
  t.true(changes.every((event) => event.actor.id === admin.rp.clientId));
});

test('a real delivery: signed, logged with its attempt, redelivered with the same event id, and signed with the new secret after a rotation', async (t) => {
  const receiver = await receiverFor(t);
  const created = await api('/webhooks', { method: 'POST', body: { url: receiver.url, event_types: ['user.created'] } });
  t.is(created.status, 201);
  const id = created.body!.id as string;
  const firstSecret = created.body!.secret as string;
  receiver.secret = firstSecret;

  const firstEmail = `hook-${unique()}@example.com`;
  await createUser(firstEmail);
  const first = await deliveryOf(receiver, firstEmail);
  t.is(first.payload!.type, 'user.created');
  t.is(first.payload!.id, first.id);

  const [logged] = await deliveriesWhen(id, (items) => items[0]?.status === 'succeeded');
  t.like(logged!, { event_id: first.id, event_type: 'user.created', status: 'succeeded', attempts: 1, next_attempt_at: null, last_status_code: 204 });
  t.is(typeof logged!.completed_at, 'string');
  t.is(logged!.attempt_log.length, 1);
  const [attempt] = logged!.attempt_log;
  t.like(attempt!, { attempt: 1, status_code: 204, error: null, succeeded: true });
  t.true(Number.isInteger(attempt!.latency_ms) && attempt!.latency_ms >= 0);
  t.false(Number.isNaN(Date.parse(attempt!.attempted_at ?? '')));

  const redelivered = await api(`/webhooks/${id}/deliveries/${logged!.id}/redeliver`, { method: 'POST' });
  t.is(redelivered.status, 201);
  t.like(redelivered.body!, { event_id: first.id, event_type: 'user.created', status: 'pending', attempts: 0, attempt_log: [] });
  t.not(redelivered.body!.id, logged!.id);
  t.is(typeof redelivered.body!.next_attempt_at, 'string');
  const again = (await receiver.waitFor(2))[1]!;
  t.is(again.id, first.id, 'a redelivery carries the same event id');
  t.is(again.payload!.id, first.id);

  const rotated = await api(`/webhooks/${id}/rotate-secret`, { method: 'POST' });
  t.is(rotated.status, 200);
  const secondSecret = rotated.body!.secret as string;
  t.regex(secondSecret, /^whsec_/);
  t.not(secondSecret, firstSecret);
  t.is(rotated.body!.id, id);
  t.false('secret' in (await api(`/webhooks/${id}`)).body!);
  receiver.secret = secondSecret;
  const secondEmail = `hook-${unique()}@example.com`;
  await createUser(secondEmail);
  const second = await deliveryOf(receiver, secondEmail);
  const headers = { 'webhook-id': second.id, 'webhook-timestamp': second.timestamp, 'webhook-signature': second.signature };
  t.notThrows(() => new Webhook(secondSecret).verify(second.body, headers));
  t.throws(() => new Webhook(firstSecret).verify(second.body, headers), undefined, 'the old secret no longer verifies');

  const log = await deliveriesWhen(id, (items) => items.length === 3 && items.every((item) => item.status === 'succeeded'));
  t.deepEqual(log.map((item) => item.event_id), [second.id, first.id, first.id], 'newest first');
  const page = await api(`/webhooks/${id}/deliveries?limit=2`);
  t.is((page.body!.items as DeliveryJson[]).length, 2);
  const rest = await api(`/webhooks/${id}/deliveries?limit=2&cursor=${encodeURIComponent(page.body!.next_cursor as string)}`);
  t.deepEqual((rest.body!.items as DeliveryJson[]).map((item) => item.id), [log[2]!.id]);
  t.is(rest.body!.next_cursor, null);

  // With a grace period the previous secret signs too, until the time the webhook shows.
  t.is((await api(`/webhooks/${id}/rotate-secret`, { method: 'POST', body: { grace_seconds: -1 } })).status, 400);
  t.is((await api(`/webhooks/${id}/rotate-secret`, { method: 'POST', body: { grace_seconds: 31 * 86400 } })).status, 400);
  const graceful = await api(`/webhooks/${id}/rotate-secret`, { method: 'POST', body: { grace_seconds: 3600 } });
  t.is(graceful.status, 200);
  const expires = Date.parse(graceful.body!.previous_secret_expires_at as string);
  t.true(Math.abs(expires - (Date.now() + 3600_000)) < 60_000);
  const thirdEmail = `hook-${unique()}@example.com`;
  await createUser(thirdEmail);
  const third = await deliveryOf(receiver, thirdEmail);
  t.true(third.verified, 'the receiver still on the previous secret verifies');
  t.notThrows(() =>
    new Webhook(graceful.body!.secret as string).verify(third.body, { 'webhook-id': third.id, 'webhook-timestamp': third.timestamp, 'webhook-signature': third.signature }),
  );


  // Another webhook's id does not reach this one's delivery.
  const other = await quietWebhook();
  const elsewhere = await api(`/webhooks/${other.id as string}/deliveries/${logged!.id}/redeliver`, { method: 'POST' });
  t.is(elsewhere.status, 404);
  t.is(elsewhere.body!.code, 'webhook.delivery_not_found');

  t.is((await api(`/webhooks/${id}`, { method: 'PATCH', body: { enabled: false } })).status, 200);
  const whileDisabled = await api(`/webhooks/${id}/deliveries/${logged!.id}/redeliver`, { method: 'POST' });
  t.is(whileDisabled.status, 400);
  t.regex(whileDisabled.body!.error_description as string, /disabled/);

  t.deepEqual(await auditTypes(id), ['webhook.created', 'webhook.redelivered', 'webhook.secret_rotated', 'webhook.secret_rotated', 'webhook.updated']);
});

test('deleting a webhook answers 204, then 404, and takes its delivery log with it', async (t) => {
  const webhook = await quietWebhook();
  const id = webhook.id as string;
  const deleted = await api(`/webhooks/${id}`, { method: 'DELETE' });
  t.is(deleted.status, 204);
  t.is(deleted.body, undefined);
  for (const [method, path] of [['GET', ''], ['DELETE', ''], ['GET', '/deliveries']] as const) {
    const response = await api(`/webhooks/${id}${path}`, { method });
    t.is(response.status, 404, `${method} ${path}`);
    t.is(response.body!.code, 'webhook.not_found');
  }
  t.false(((await api('/webhooks?limit=1000')).body!.items as Json[]).some((item) => item.id === id));
  t.deepEqual(await auditTypes(id), ['webhook.created', 'webhook.deleted']);
});

test('unknown webhooks and deliveries are 404s', async (t) => {
  const requests: Array<[string, string, unknown?]> = [
    ['GET', `/webhooks/${MISSING_ID}`],
    ['GET', '/webhooks/not-a-uuid'],
    ['PATCH', `/webhooks/${MISSING_ID}`, { enabled: false }],
    ['DELETE', `/webhooks/${MISSING_ID}`],
    ['POST', `/webhooks/${MISSING_ID}/rotate-secret`],
    ['GET', `/webhooks/${MISSING_ID}/deliveries`],
  ];
  for (const [method, path, body] of requests) {
    const response = await api(path, { method, ...(body !== undefined ? { body } : {}) });
    t.is(response.status, 404, `${method} ${path}`);
    t.is(response.body!.code, 'webhook.not_found', `${method} ${path}`);
  }
  const webhook = await quietWebhook();
  for (const deliveryId of ['999999999', 'not-a-number']) {
    const response = await api(`/webhooks/${webhook.id as string}/deliveries/${deliveryId}/redeliver`, { method: 'POST' });
    t.is(response.status, 404, deliveryId);
    t.is(response.body!.code, 'webhook.delivery_not_found');
  }
});
