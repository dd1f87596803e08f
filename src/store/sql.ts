import type { Knex } from 'knex';
import { LatchkeyError, type ErrorCode } from '../errors.js';

/** Maps a PostgreSQL unique violation (23505) to a LatchkeyError; anything else passes through. */
export async function mapUniqueViolation<T>(work: Promise<T>, code: ErrorCode, field: string): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if ((error as { code?: unknown }).code === '23505') {
      throw new LatchkeyError(code, undefined, { details: { [field]: 'is already taken' }, cause: error });
    }
    throw error;
  }
}

/**
 * Runs a statement written out in SQL and returns its rows (a write's RETURNING). For the statements every token
 * request makes: composing one with the query builder costs more CPU (about 0.2 ms) than
 * sending it and reading the answer. Both engines speak PostgreSQL, so the text is the same.
 */
export async function runSql<T>(db: Knex, sql: string, bindings: readonly Knex.Value[]): Promise<T[]> {
  const result = (await db.raw(sql, bindings as Knex.Value[])) as { rows: T[] };
  return result.rows;
}

/** `count(*)` and bigint come back as numbers from PGlite and as strings from pg. */
export function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

/**
 * PostgreSQL text cannot hold a NUL byte and rejects a query that carries one. Keys arrive
 * from requests, so a lookup by such a key finds nothing instead of failing.
 */
export function isStorableKey(value: string): boolean {
  return !value.includes('\0');
}

/** A LIKE pattern that matches `value` anywhere, with its own wildcards taken literally. */
export function containsPattern(value: string): string {
  return `%${value.replace(/[\\%_]/g, (match) => `\\${match}`)}%`;
}

/**
 * Deletes at most `batch` rows of `table` that `match` selects; returns how many went, so
 * retention can loop in bounded steps. `returning` rather than the affected-row count, which
 * PGlite's Knex dialect does not give for deletes.
 */
export async function deleteBatch(db: Knex, table: string, key: string | string[], match: (query: Knex.QueryBuilder) => void, batch: number): Promise<number> {
  const candidates = db(table).select(key).limit(batch);
  match(candidates);
  const deleted = await db(table).whereIn(key as string, candidates).delete().returning(key as string);
  return deleted.length;
}
