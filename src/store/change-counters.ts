import type { Knex } from 'knex';
import { toNumber } from './sql.js';

export type ChangeTopic = 'clients' | 'resources' | 'keys' | 'upstream_providers';

/**
 * Called once, inside the transaction that made the change, so the bump commits with it
 * (usually at its end; first where its row lock should also serialise concurrent changes, as
 * key rotation does). Topics are locked in one fixed order: two transactions bumping the same
 * topics in different orders would deadlock.
 */
export async function bumpChangeCounters(db: Knex, ...topics: ChangeTopic[]): Promise<void> {
  for (const topic of [...new Set(topics)].sort()) {
    await db('change_counters').where({ topic }).increment('version', 1);
  }
}

export async function readChangeCounters(db: Knex): Promise<Map<string, number>> {
  const rows = await db<{ topic: string; version: number | string }>('change_counters').select('topic', 'version');
  return new Map(rows.map((row) => [row.topic, toNumber(row.version)]));
}
