import { randomBytes, randomUUID } from 'node:crypto';
import test from 'ava';
import type { Knex } from 'knex';
import { runCleanup } from '../../src/jobs/cleanup.js';
import { insertAuditEvent } from '../../src/store/audit-events.js';
import { insertEmailToken } from '../../src/store/email-tokens.js';
import { insertMail, markMailSent } from '../../src/store/mail-outbox.js';
import { countFailure } from '../../src/store/throttles.js';
import { createTestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const DAY = 86_400_000;

let server: TestServer;

test.before(async () => {
  // The default interval (minutes): the job stays out of the way while runCleanup is called directly.
  server = await startTestServer({ LATCHKEY_MAIL_RETENTION: '1d', LATCHKEY_AUDIT_RETENTION: '30d', LATCHKEY_WEBHOOK_RETENTION: '30d' });
});

test.after.always(async () => {
  await server?.dispose();
});

const ago = (ms: number) => new Date(Date.now() - ms);
const unique = (what: string) => `${what}-${randomBytes(4).toString('hex')}`;

async function throttle(db: Knex, key: string, failedAt: Date): Promise<void> {
  // A one-minute window: the row expires a minute after the failure.
  await countFailure(db, key, failedAt, 60);
}

async function mail(db: Knex, status: 'pending' | 'held' | 'sent', createdAt: Date): Promise<string> {
  const id = await insertMail(db, { to: 'someone@example.com', subject: unique('subject'), text: 'text', html: '<p>html</p>', status: status === 'sent' ? 'pending' : status });
  if (status === 'sent') await markMailSent(db, id, createdAt);
  // The database stamps new mail with its own clock; age it as if it had waited that long.
  await db('mail_outbox').where({ id }).update({ created_at: createdAt });
  return id;
}

async function auditEvent(db: Knex, occurredAt: Date): Promise<string> {
  const type = 'user.updated';
  const subjectId = unique('subject');
  await insertAuditEvent(db, { occurredAt, type, actorType: 'system', actorId: 'test', subjectType: 'user', subjectId, ip: null, outcome: 'success', details: {} });
  return subjectId;
}

async function emailToken(db: Knex, userId: string, expiresAt: Date): Promise<string> {
  const tokenHash = unique('hash');
  await insertEmailToken(db, { tokenHash, purpose: 'reset_password', userId, email: 'someone@example.com', returnTo: null, expiresAt });
  return tokenHash;
}

test('runCleanup deletes expired throttles and links, mail and audit events past retention, and keeps the rest', async (t) => {
  const db = server.deps.db.knex;
  const user = await createTestUser(server);
  const throttles = { expired: unique('expired'), live: unique('live') };
  await throttle(db, throttles.expired, ago(2 * 60_000));
  await throttle(db, throttles.live, ago(0));
  const mails = {
    oldSent: await mail(db, 'sent', ago(2 * DAY)),
    oldHeld: await mail(db, 'held', ago(2 * DAY)),
    oldPending: await mail(db, 'pending', ago(2 * DAY)),
    recentSent: await mail(db, 'sent', ago(DAY / 2)),
  };
  const events = { old: await auditEvent(db, ago(31 * DAY)), recent: await auditEvent(db, ago(29 * DAY)) };
  const tokens = { expired: await emailToken(db, user.id, ago(60_000)), live: await emailToken(db, user.id, ago(-30 * 60_000)) };

  const counts = await runCleanup(server.deps);

  const throttleKeys = (await db('throttles').whereIn('key', Object.values(throttles)).pluck('key')) as string[];
  t.deepEqual(throttleKeys, [throttles.live]);
  const mailIds = ((await db('mail_outbox').whereIn('id', Object.values(mails)).pluck('id')) as Array<string | number>).map(String).sort();
  t.deepEqual(mailIds, [mails.oldPending, mails.recentSent].sort(), 'mail still to be sent stays, however old');
  const subjects = (await db('audit_events').whereIn('subject_id', Object.values(events)).pluck('subject_id')) as string[];
  t.deepEqual(subjects, [events.recent]);
  const hashes = (await db('email_tokens').whereIn('token_hash', Object.values(tokens)).pluck('token_hash')) as string[];
  t.deepEqual(hashes, [tokens.live]);

  t.true(counts['expired throttles']! >= 1);
  t.true(counts['old outbox mail']! >= 2);
  t.true(counts['old audit events']! >= 1);
  t.true(counts['expired email links']! >= 1);
});

// Alone: another test's cleanup run would take the rows this one counts, and the other way round.
test.serial('webhook events past LATCHKEY_WEBHOOK_RETENTION go with their deliveries and attempts, unless a delivery is still pending', async (t) => {
  const db = server.deps.db.knex;
  const [endpoint] = (await db('webhook_endpoints')
    .insert({ id: randomUUID(), url: 'https://hooks.example/in', event_types: ['*'], sealed_secret: 'unused here' })
    .returning('id')) as Array<{ id: string }>;
  const event = async (age: number, status: 'succeeded' | 'failed' | 'pending') => {
    const id = unique('msg');
    await db('webhook_events').insert({ id, type: 'user.created', occurred_at: ago(age), payload: '{}' });
    const [delivery] = (await db('webhook_deliveries')
      .insert({ event_id: id, endpoint_id: endpoint!.id, status, next_attempt_at: ago(age), created_at: ago(age) })
      .returning('id')) as Array<{ id: string | number }>;
    await db('webhook_attempts').insert({ delivery_id: delivery!.id, attempt: 1, attempted_at: ago(age), status_code: 500, latency_ms: 3, succeeded: false });
    return id;
  };
  const events = { oldDelivered: await event(31 * DAY, 'succeeded'), oldFailed: await event(31 * DAY, 'failed'), oldPending: await event(31 * DAY, 'pending'), recent: await event(29 * DAY, 'succeeded') };

  const counts = await runCleanup(server.deps);

  const kept = (await db('webhook_events').whereIn('id', Object.values(events)).pluck('id')) as string[];
  t.deepEqual(kept.sort(), [events.oldPending, events.recent].sort());
  t.is(counts['old webhook events'], 2);
  const orphans = await db('webhook_attempts').whereNotIn('delivery_id', db('webhook_deliveries').select('id'));
  t.deepEqual(orphans, [], 'attempts go with their deliveries');
});

test('the cleanup job runs by itself every LATCHKEY_CLEANUP_INTERVAL', async (t) => {
  const scheduled = await startTestServer({ LATCHKEY_CLEANUP_INTERVAL: '200ms' });
  try {
    const db = scheduled.deps.db.knex;
    const [expired, live] = [unique('expired'), unique('live')];
    await throttle(db, expired, ago(2 * 60_000));
    await throttle(db, live, ago(0));
    const deadline = Date.now() + 15_000;
    const remaining = async () => (await db('throttles').whereIn('key', [expired, live]).pluck('key')) as string[];
    while ((await remaining()).includes(expired) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    t.deepEqual(await remaining(), [live]);
  } finally {
    await scheduled.dispose();
  }
});
