import fs from 'node:fs/promises';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPGLite from 'knex-pglite';
import type { Config } from '../config.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';

export type { Knex };

export type Engine = 'postgres' | 'embedded';

export interface Database {
  /** The pool every request uses; may go through a transaction pooler. */
  readonly knex: Knex;
  /**
   * A small pool straight to PostgreSQL (LATCHKEY_DIRECT_DATABASE_URL, else DATABASE_URL) for what
   * needs one session throughout: migrations and session advisory locks.
   */
  readonly direct: Knex;
  readonly engine: Engine;
  /** Runs `work` while holding a PostgreSQL advisory lock, so concurrent starts serialise. */
  withExclusiveLock<T>(work: () => Promise<T>): Promise<T>;
  /**
   * Runs `work` only if no other process is running the job `name` (an advisory lock held on
   * a direct connection for the run); resolves to undefined when another one holds it.
   */
  withJobLock<T>(name: string, work: () => Promise<T>): Promise<T | undefined>;
  close(): Promise<void>;
}

// Any fixed numbers work; they only have to be the same for every Latchkey process.
const BOOTSTRAP_LOCK_KEY = 0x1a7c4e1;
const JOB_LOCK_NAMESPACE = 0x1a7c;

/** A stable 32-bit number for a job name (FNV-1a), the second half of its advisory lock key. */
function jobLockKey(name: string): number {
  let hash = 0x811c9dc5;
  for (const char of Buffer.from(name, 'utf8')) {
    hash ^= char;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

export function pgliteDataPath(dataDir: string): string {
  return path.join(dataDir, 'pgdata');
}

export async function openDatabase(config: Pick<Config, 'db'>, options: { lockHolder?: string } = {}): Promise<Database> {
  return config.db.url ? openPostgres({ ...config.db, url: config.db.url }) : openEmbedded(config.db.dataDir, options.lockHolder ?? 'server');
}

interface PgConnection {
  query(sql: string, values: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

function openPostgres(settings: Config['db'] & { url: string }): Database {
  const timeoutMs = settings.timeoutMs;
  // Requests fail fast when the database does not answer (a 503, not a hung request): waiting
  // for a pooled connection, opening one and each query are all bounded.
  const knex = knexFactory({
    client: 'pg',
    connection: { connectionString: settings.url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, keepAlive: true },
    pool: { min: 0, max: settings.poolSize },
    acquireConnectionTimeout: timeoutMs,
  });
  // Migrations and locks may legitimately wait longer than a request would.
  const direct = knexFactory({
    client: 'pg',
    connection: { connectionString: settings.directUrl ?? settings.url, connectionTimeoutMillis: timeoutMs, keepAlive: true },
    pool: { min: 0, max: 2 },
  });

  // A session-level lock needs one connection for its whole life, outside the pool's rotation.
  async function onDirectConnection<T>(work: (connection: PgConnection) => Promise<T>): Promise<T> {
    const connection = (await direct.client.acquireConnection()) as PgConnection;
    try {
      return await work(connection);
    } finally {
      await direct.client.releaseConnection(connection);
    }
  }

  return {
    knex,
    direct,
    engine: 'postgres',
    withExclusiveLock: (work) =>
      onDirectConnection(async (connection) => {
        await connection.query('SELECT pg_advisory_lock($1)', [BOOTSTRAP_LOCK_KEY]);
        try {
          return await work();
        } finally {
          await connection.query('SELECT pg_advisory_unlock($1)', [BOOTSTRAP_LOCK_KEY]);
        }
      }),
    withJobLock: (name, work) =>
      onDirectConnection(async (connection) => {
        const key = jobLockKey(name);
        const { rows } = await connection.query('SELECT pg_try_advisory_lock($1, $2) AS locked', [JOB_LOCK_NAMESPACE, key]);
        if (rows[0]?.locked !== true) return undefined;
        try {
          return await work();
        } finally {
          await connection.query('SELECT pg_advisory_unlock($1, $2)', [JOB_LOCK_NAMESPACE, key]);
        }
      }),
    async close() {
      await Promise.all([knex.destroy(), direct.destroy()]);
    },
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
    direct: knex,
    engine: 'embedded',
    // PGlite has one connection and the data-dir lock already keeps every other process out.
    withExclusiveLock: (work) => work(),
    withJobLock: (_name, work) => work(),
    async close() {
      await knex.destroy();
      await lock.release();
    },
  };
}
