import fs from 'node:fs/promises';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { isDatabaseUnavailable } from './unavailable.js';

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

export interface OpenOptions {
  lockHolder?: string;
  /** Where Knex's own warnings go (pool errors during an outage); without it, Knex writes them to the console. */
  log?: Logger;
}

export async function openDatabase(config: Pick<Config, 'db'>, options: OpenOptions = {}): Promise<Database> {
  const knexLog = options.log ? knexLogger(options.log) : undefined;
  return config.db.url
    ? openPostgres({ ...config.db, url: config.db.url }, knexLog)
    : openEmbedded(config.db.dataDir, options.lockHolder ?? 'server', knexLog);
}

/** Knex's messages as structured log lines (their first line: no stack traces), so they do not break a JSON log stream. */
function knexLogger(log: Logger): Knex.Config['log'] {
  const line = (level: 'warn' | 'error' | 'debug') => (message: unknown) =>
    log[level]({ knex: (message instanceof Error ? message.message : String(message)).split('\n')[0] }, 'database driver');
  return { warn: line('warn'), error: line('error'), deprecate: line('warn'), debug: line('debug') };
}

/** A pg client as the pool holds it. */
interface PgConnection {
  __knexUid?: string;
  query(query: { text: string; values: unknown[]; query_timeout?: number }): Promise<{ rows: Array<Record<string, unknown>> }>;
  once(event: 'end', listener: () => void): unknown;
  end(callback: () => void): void;
}

/**
 * Connections that must not be handed out again: closed, and refused by the pool's validation
 * from that moment on, before their sockets have finished closing; the pool opens fresh ones.
 */
function brokenConnections() {
  const closing = new WeakSet<PgConnection>();
  return {
    validate: (connection: PgConnection) => !closing.has(connection),
    close(connection: PgConnection) {
      closing.add(connection);
      // pg's end() drops a connection even with a query in flight.
      connection.end(() => {});
    },
  };
}

/**
 * A query that failed because the database is away leaves a connection that must not serve
 * again. One that ran out of query_timeout waits for an answer that may never come (a database
 * host that vanished without closing its sockets): back in the pool, each query given it would
 * wait out the timeout as well. One the server ended (57P01) or that broke is closed already,
 * but its socket may not have said so yet when the next request takes it. So each is closed.
 */
function closingAfterOutages(close: (connection: PgConnection) => void) {
  const open = new Map<string, PgConnection>();
  return {
    afterCreate(connection: PgConnection, done: (error: null, connection: PgConnection) => void) {
      const uid = connection.__knexUid;
      if (uid !== undefined) {
        open.set(uid, connection);
        connection.once('end', () => open.delete(uid));
      }
      done(null, connection);
    },
    watch(knex: Knex) {
      knex.on('query-error', (error: unknown, query: { __knexUid?: string }) => {
        const connection = query.__knexUid === undefined ? undefined : open.get(query.__knexUid);
        if (connection && isDatabaseUnavailable(error)) close(connection);
      });
    },
  };
}

function openPostgres(settings: Config['db'] & { url: string }, log: Knex.Config['log']): Database {
  const timeoutMs = settings.timeoutMs;
  const broken = brokenConnections();
  const afterOutages = closingAfterOutages(broken.close);
  // Requests fail fast when the database does not answer (a 503, not a hung request): waiting
  // for a pooled connection, opening one and each query are all bounded. Errors name the
  // statement but not its values, which can be personal data or secrets and end up in logs.
  const knex = knexFactory({
    client: 'pg',
    connection: { connectionString: settings.url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, keepAlive: true },
    pool: { min: 0, max: settings.poolSize, validate: broken.validate, afterCreate: afterOutages.afterCreate },
    acquireConnectionTimeout: timeoutMs,
    compileSqlOnError: false,
    ...(log ? { log } : {}),
  });
  afterOutages.watch(knex);
  // Migrations and the bootstrap lock may legitimately wait longer than a request would.
  const brokenDirect = brokenConnections();
  const direct = knexFactory({
    client: 'pg',
    connection: { connectionString: settings.directUrl ?? settings.url, connectionTimeoutMillis: timeoutMs, keepAlive: true },
    pool: { min: 0, max: 2, validate: brokenDirect.validate },
    compileSqlOnError: false,
    ...(log ? { log } : {}),
  });

  // A session-level lock needs one connection for its whole life, outside the pool's rotation.
  // One that failed on the way (its locks may be gone with it) is not used again.
  async function onDirectConnection<T>(work: (connection: PgConnection) => Promise<T>): Promise<T> {
    const connection = (await direct.client.acquireConnection()) as PgConnection;
    try {
      return await work(connection);
    } catch (error) {
      if (isDatabaseUnavailable(error)) brokenDirect.close(connection);
      throw error;
    } finally {
      await direct.client.releaseConnection(connection);
    }
  }

  // Taking a job's lock or giving one back is instant when the database answers: bounded like a request.
  const lockQuery = (connection: PgConnection, text: string, values: unknown[]) => connection.query({ text, values, query_timeout: timeoutMs });

  // Runs `work`, then gives the lock back. A lock that cannot be given back goes with its
  // session (the connection is closed, not pooled), and never hides what `work` threw.
  async function thenUnlock<T>(connection: PgConnection, work: () => Promise<T>, unlock: string, values: unknown[]): Promise<T> {
    try {
      return await work();
    } finally {
      try {
        await lockQuery(connection, unlock, values);
      } catch {
        brokenDirect.close(connection);
      }
    }
  }

  return {
    knex,
    direct,
    engine: 'postgres',
    withExclusiveLock: (work) =>
      onDirectConnection(async (connection) => {
        await connection.query({ text: 'SELECT pg_advisory_lock($1)', values: [BOOTSTRAP_LOCK_KEY] });
        return thenUnlock(connection, work, 'SELECT pg_advisory_unlock($1)', [BOOTSTRAP_LOCK_KEY]);
      }),
    withJobLock: (name, work) =>
      onDirectConnection(async (connection) => {
        const key = jobLockKey(name);
        const { rows } = await lockQuery(connection, 'SELECT pg_try_advisory_lock($1, $2) AS locked', [JOB_LOCK_NAMESPACE, key]);
        if (rows[0]?.locked !== true) return undefined;
        return thenUnlock(connection, work, 'SELECT pg_advisory_unlock($1, $2)', [JOB_LOCK_NAMESPACE, key]);
      }),
    async close() {
      await Promise.all([knex.destroy(), direct.destroy()]);
    },
  };
}

async function openEmbedded(dataDir: string, holder: string, log: Knex.Config['log']): Promise<Database> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const lock: DataDirLock = await acquireDataDirLock(dataDir, holder);
  let knex: Knex;
  try {
    // Loaded only here: the WebAssembly PostgreSQL is about 50 MB of memory a node on PostgreSQL never needs.
    const { default: ClientPGLite } = await import('knex-pglite');
    knex = knexFactory({ client: ClientPGLite, connection: { filename: pgliteDataPath(dataDir) }, compileSqlOnError: false, ...(log ? { log } : {}) } as Knex.Config);
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
