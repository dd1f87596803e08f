import type { Knex } from 'knex';
import { deleteBatch } from './sql.js';

export interface ThrottleRow {
  key: string;
  failures: number;
  blockedUntil: Date | null;
}

interface ThrottleColumns {
  key: string;
  failures: number;
  blocked_until: Date | string | null;
}

function fromColumns(row: ThrottleColumns): ThrottleRow {
  return { key: row.key, failures: row.failures, blockedUntil: row.blocked_until === null ? null : new Date(row.blocked_until) };
}

/** The live rows among `keys`: a row whose window has passed counts as no failures. */
export async function findThrottles(db: Knex, keys: string[], now: Date): Promise<ThrottleRow[]> {
  const rows = await db<ThrottleColumns>('throttles').select('key', 'failures', 'blocked_until').whereIn('key', keys).andWhere('expires_at', '>', now);
  return rows.map(fromColumns);
}

/**
 * Counts one more failure in one statement, so concurrent failures on several nodes all count.
 * A window that has passed starts again from one.
 */
export async function countFailure(db: Knex, key: string, now: Date, windowSeconds: number): Promise<number> {
  const expiresAt = new Date(now.getTime() + windowSeconds * 1000);
  const result = await db.raw(
    `INSERT INTO throttles (key, failures, blocked_until, expires_at) VALUES (?, 1, NULL, ?)
     ON CONFLICT (key) DO UPDATE SET
       failures = CASE WHEN throttles.expires_at <= ? THEN 1 ELSE throttles.failures + 1 END,
       blocked_until = CASE WHEN throttles.expires_at <= ? THEN NULL ELSE throttles.blocked_until END,
       expires_at = GREATEST(EXCLUDED.expires_at, COALESCE(throttles.blocked_until, EXCLUDED.expires_at))
     RETURNING failures`,
    [key, expiresAt, now, now],
  );
  return (result.rows as Array<{ failures: number }>)[0]!.failures;
}

export async function blockUntil(db: Knex, key: string, until: Date, expiresAt: Date): Promise<void> {
  await db('throttles')
    .where({ key })
    .update({ blocked_until: until, expires_at: db.raw('GREATEST(expires_at, ?)', [expiresAt]) });
}

export async function clearThrottle(db: Knex, key: string): Promise<void> {
  await db('throttles').where({ key }).delete();
}

export async function deleteExpiredThrottles(db: Knex, now: Date, batch: number): Promise<number> {
  return deleteBatch(db, 'throttles', 'key', (query) => query.where('expires_at', '<=', now), batch);
}
