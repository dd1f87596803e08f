import type { Knex } from 'knex';

/**
 * Where a page ends, for keyset pagination over (created_at, id). `createdAt` is PostgreSQL's
 * own text for the timestamp: a JavaScript Date keeps milliseconds and would skip or repeat
 * rows created within the same millisecond.
 */
export interface CreatedKey {
  createdAt: string;
  id: string;
}

/** The extra column every paged query selects, so the last row can become a cursor. */
export function createdKeyColumn(knex: Knex, table: string) {
  return knex.raw(`${table}.created_at::text AS page_created_at`);
}

export function afterCreatedKey(query: Knex.QueryBuilder, table: string, idColumn: string, after: CreatedKey | undefined): void {
  if (after) query.whereRaw(`(${table}.created_at, ${table}.${idColumn}) > (?::timestamptz, ?)`, [after.createdAt, after.id]);
}
