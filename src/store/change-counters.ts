import type { Knex } from 'knex';
import { toNumber } from './sql.js';

export type ChangeTopic = 'clients' | 'resources' | 'keys';

/** Called inside the transaction that made the change, so the bump commits with it. */
export async function bumpChangeCounter(db: Knex, topic: ChangeTopic): Promise<void> {
  await db('change_counters').where({ topic }).increment('version', 1);
}

export async function readChangeCounters(db: Knex): Promise<Map<string, number>> {
  const rows = await db<{ topic: string; version: number | string }>('change_counters').select('topic', 'version');
  return new Map(rows.map((row) => [row.topic, toNumber(row.version)]));
}
