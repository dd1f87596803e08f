import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { lines, repoRoot } from '../helpers/processes.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver, type TestReceiver } from '../helpers/webhook-receiver.js';
import { assertOneLineError, cliFor, eventually, json, type Page } from './support.js';

let server: TestServer;
let cli: ReturnType<typeof cliFor>;

test.before(async () => {
  server = await startTestServer({ LATCHKEY_WEBHOOK_POLL_INTERVAL: '100ms' });
  cli = cliFor(server);
});

test.after.always(async () => {
  await server?.dispose();
});

type Webhook = Record<string, unknown>;

interface Delivery {
  id: string;
  event_id: string;
  status: string;
  attempts: number;
  attempt_log: Array<{ attempt: number; status_code: number | null; latency_ms: number; error: string | null; succeeded: boolean }>;
}

const unique = () => randomBytes(4).toString('hex');

/** A receiver URL nothing listens on, for webhooks that are never delivered to. */
const quietUrl = () => `http://127.0.0.1:9/${unique()}`;

async function receiverFor(t: ExecutionContext): Promise<TestReceiver> {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  return receiver;
}

test('webhooks create prints the secret once; get and list never show it', async (t) => {
  const url = quietUrl();
  const created = json<Webhook>(t, await cli(['webhooks', 'create', '--url', url, '--events', 'user.updated,user.created', '--description', 'CRM sync', '--json']));
  const secret = created.secret as string;
  t.regex(secret, /^whsec_/);
  t.like(created, { url, description: 'CRM sync', event_types: ['user.created', 'user.updated'], enabled: true });
  const id = created.id as string;

  const fetched = json<Webhook>(t, await cli(['webhooks', 'get', id, '--json']));
  t.false('secret' in fetched);
  t.is(fetched.url, url);
  const listed = await cli(['webhooks', 'list', '--json']);
  t.true(json<Page>(t, listed).items.some((item) => item.id === id));
  t.false(listed.stdout.includes(secret));

  const human = await cli(['webhooks', 'create', '--url', quietUrl(), '--events', '*', '--disabled']);
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /^secret\s+whsec_\S+$/m);
  t.regex(human.stdout, /^enabled\s+false$/m);
  t.regex(human.stderr, /will not be shown again/);

  const table = await cli(['webhooks', 'list']);
  t.is(table.code, 0, table.stderr);
  t.deepEqual(lines(table.stdout)[0]!.split(/\s+/), ['id', 'enabled', 'url', 'event_types', 'description']);
  t.true(lines(table.stdout).some((line) => line.startsWith(id) && line.includes(url)));
});

test('webhooks update changes settings, disables and enables, and rotates the secret', async (t) => {
  const created = json<Webhook>(t, await cli(['webhooks', 'create', '--url', quietUrl(), '--events', 'user.created', '--json']));
  const id = created.id as string;

  const disabled = json<Webhook>(t, await cli(['webhooks', 'update', id, '--disable', '--json']));
  t.like(disabled, { enabled: false, event_types: ['user.created'] });
  t.false('secret' in disabled);
  const moved = json<Webhook>(t, await cli(['webhooks', 'update', id, '--enable', '--events', '*', '--url', 'http://127.0.0.1:9/moved', '--description', 'moved', '--json']));
  t.like(moved, { enabled: true, event_types: ['*'], url: 'http://127.0.0.1:9/moved', description: 'moved' });

  const rotated = json<Webhook>(t, await cli(['webhooks', 'update', id, '--rotate-secret', '--description', '', '--json']));
  t.regex(rotated.secret as string, /^whsec_/);
  t.not(rotated.secret, created.secret);
  t.is(rotated.description, '', 'the changes made with a rotation are shown with the new secret');
  const human = await cli(['webhooks', 'update', id, '--rotate-secret']);
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /^secret\s+whsec_/m);
  t.regex(human.stderr, /will not be shown again/);

  const graceful = json<Webhook>(t, await cli(['webhooks', 'update', id, '--rotate-secret', '--grace', '1h', '--json']));
  t.true(Math.abs(Date.parse(graceful.previous_secret_expires_at as string) - (Date.now() + 3600_000)) < 60_000, 'the previous secret signs for an hour more');

  assertOneLineError(t, await cli(['webhooks', 'update', id, '--grace', '1h']), '--grace applies only with --rotate-secret');
  assertOneLineError(t, await cli(['webhooks', 'update', id, '--rotate-secret', '--grace', '31d']), 'at most 30 days');
  assertOneLineError(t, await cli(['webhooks', 'update', id]), 'nothing to change');
  assertOneLineError(t, await cli(['webhooks', 'update', id, '--enable', '--disable']), '--enable and --disable');
  assertOneLineError(t, await cli(['webhooks', 'update', id, '--events', '']), '--events');
});

test('webhooks deliveries shows a real delivery with its attempt, and redeliver sends the same event again', async (t) => {
  const receiver = await receiverFor(t);
  const created = json<Webhook>(t, await cli(['webhooks', 'create', '--url', receiver.url, '--events', 'user.created', '--json']));
  const id = created.id as string;
  receiver.secret = created.secret as string;

  json(t, await cli(['users', 'create', '--email', `hook-${unique()}@example.com`, '--password', 'correct horse battery', '--json']));
  const [first] = await receiver.waitFor(1);
  t.is(first!.payload!.type, 'user.created');

  let deliveries: Delivery[] = [];
  t.true(
    await eventually(async () => {
      deliveries = json<Page<Delivery>>(t, await cli(['webhooks', 'deliveries', id, '--json'])).items;
      return deliveries[0]?.status === 'succeeded';
    }),
    JSON.stringify(deliveries),
  );
  const [delivery] = deliveries;
  t.like(delivery!, { event_id: first!.id, attempts: 1 });
  t.like(delivery!.attempt_log, [{ attempt: 1, status_code: 204, error: null, succeeded: true }]);

  const table = await cli(['webhooks', 'deliveries', id]);
  t.is(table.code, 0, table.stderr);
  const [header, row] = lines(table.stdout);
  t.deepEqual(header!.split(/\s+/), ['delivery', 'event', 'status', 'attempt', 'time', 'code', 'latency', 'error']);
  t.regex(row!, new RegExp(`^${delivery!.id}\\s+user\\.created\\s+succeeded\\s+1\\s+\\S+Z\\s+204\\s+\\d+ ms\\s+-$`));

  const redelivered = json<Delivery>(t, await cli(['webhooks', 'redeliver', delivery!.id, '--json']));
  t.like(redelivered, { event_id: first!.id, status: 'pending', attempts: 0, attempt_log: [] });
  const again = (await receiver.waitFor(2))[1]!;
  t.is(again.id, first!.id, 'the same event id');

  t.true(
    await eventually(async () => {
      const page = json<Page<Delivery>>(t, await cli(['webhooks', 'deliveries', id, '--limit', '1', '--json']));
      return page.items.length === 1 && page.items[0]!.id === redelivered.id && page.items[0]!.status === 'succeeded' && page.next_cursor !== null;
    }),
  );
  const human = await cli(['webhooks', 'redeliver', delivery!.id]);
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, new RegExp(`^event_id\\s+${first!.id}$`, 'm'));
});

test('webhooks delete removes it', async (t) => {
  const id = json<Webhook>(t, await cli(['webhooks', 'create', '--url', quietUrl(), '--events', 'user.created', '--json'])).id as string;
  const deleted = await cli(['webhooks', 'delete', id]);
  t.is(deleted.code, 0, deleted.stderr);
  t.is(deleted.stdout.trim(), `deleted webhook ${id}`);
  assertOneLineError(t, await cli(['webhooks', 'get', id]), id);
  assertOneLineError(t, await cli(['webhooks', 'delete', id]), id);
  t.false(json<Page>(t, await cli(['webhooks', 'list', '--json'])).items.some((item) => item.id === id));
});

test('bad webhooks flags and arguments give one-line errors naming them', async (t) => {
  const url = quietUrl();
  const results = await Promise.all([
    cli(['webhooks', 'create', '--url', url]),
    cli(['webhooks', 'create', '--events', 'user.created']),
    cli(['webhooks', 'create', '--url', url, '--events', 'user.created,user.exploded']),
    cli(['webhooks', 'create', '--url', url, '--events', '']),
    cli(['webhooks', 'create', '--url', 'https://user:pass@hooks.example/in', '--events', '*']),
    cli(['webhooks', 'create', '--url', 'http://169.254.169.254/latest/meta-data/', '--events', '*']),
    cli(['webhooks', 'create', '--url', url, '--events', '*', '--colour', 'red']),
    cli(['webhooks', 'deliveries', '00000000-0000-4000-8000-000000000000', '--limit', '0']),
    cli(['webhooks', 'get', '00000000-0000-4000-8000-000000000000']),
    cli(['webhooks', 'redeliver', '999999999']),
    cli(['webhooks', 'frobnicate']),
    cli(['events', 'schema', 'user.exploded']),
  ]);
  const mentions = [
    '--events',
    '--url',
    '"user.exploded" is not an event type',
    '--events',
    '--url',
    '169.254.169.254',
    '--colour',
    '--limit',
    'no webhook with id 00000000-0000-4000-8000-000000000000',
    'no webhook delivery with id 999999999',
    'webhooks frobnicate',
    'user.exploded',
  ];
  results.forEach((result, index) => assertOneLineError(t, result, mentions[index]!));
  t.true(results[2]!.stderr.startsWith('error: --events '), results[2]!.stderr);
  t.false(json<Page>(t, await cli(['webhooks', 'list', '--json'])).items.some((item) => item.url === url), 'nothing was created');
});

test('events catalog prints docs/events.md as committed, and events schema the JSON Schema of a type', async (t) => {
  const catalog = await cli(['events', 'catalog']);
  t.is(catalog.code, 0, catalog.stderr);
  const committed = await fs.readFile(path.join(repoRoot, 'docs/events.md'), 'utf8');
  t.true(catalog.stdout === committed, 'docs/events.md is out of date: run npm run docs:events');

  const schema = await cli(['events', 'schema', 'user.created']);
  t.is(schema.code, 0, schema.stderr);
  const parsed = JSON.parse(schema.stdout) as { type: string; properties: Record<string, unknown>; required: string[] };
  t.is(parsed.type, 'object');
  t.deepEqual([...parsed.required].sort(), ['created_via', 'user']);
  t.true(committed.includes(schema.stdout.trimEnd()), 'the catalogue holds the same schema');
});
