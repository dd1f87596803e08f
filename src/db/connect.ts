import fs from 'node:fs/promises';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPGLite from 'knex-pglite';
import type { Config } from '../config.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';

export type { Knex };

export type Engine = 'postgres' | 'embedded';

export interface Database {
  readonly knex: Knex;
  readonly engine: Engine;
  /** Runs `work` while holding a PostgreSQL advisory lock, so concurrent starts serialise. */
  withExclusiveLock<T>(work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// Any fixed number works; it only has to be the same for every Latchkey process.
const BOOTSTRAP_LOCK_KEY = 0x1a7c4e1;

export function pgliteDataPath(dataDir: string): string {
  return path.join(dataDir, 'pgdata');
}

export async function openDatabase(config: Pick<Config, 'db'>, options: { lockHolder?: string } = {}): Promise<Database> {
  return config.db.url ? openPostgres(config.db.url) : openEmbedded(config.db.dataDir, options.lockHolder ?? 'server');
}

function openPostgres(url: string): Database {
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 10 } });
  return {
    knex,
    engine: 'postgres',
    async withExclusiveLock(work) {
      // A session-level lock needs one connection for its whole life, outside the pool's rotation.
      const connection = await knex.client.acquireConnection();
      try {
        await connection.query('SELECT pg_advisory_lock($1)', [BOOTSTRAP_LOCK_KEY]);
        try {
          return await work();
        } finally {
          await connection.query('SELECT pg_advisory_unlock($1)', [BOOTSTRAP_LOCK_KEY]);
        }
      } finally {
        await knex.client.releaseConnection(connection);
      }
    },
    close: () => knex.destroy(),
  };
}

async function openEmbedded(dataDir: string, holder: string): Promise<Database> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const lock: DataDirLock = await acquireDataDirLock(dataDir, holder);
  let knex: Knex;
  try {
    knex = knexFactory({ client: ClientPGLite, connection: { filename: pgliteDataPath(dataDir) } } as Knex.Config);
    await knex.raw('SELECT 1');
  } catch (error) {
    await lock.release();
    throw error;
  }
  return {
    knex,
    engine: 'embedded',
    // PGlite has one connection and the data-dir lock already keeps every other process out.
    withExclusiveLock: (work) => work(),
    async close() {
      await knex.destroy();
      await lock.release();
    },
  };
}
