import type { Deps } from '../deps.js';
import { knownMigrations } from '../db/migrate.js';

export type Check = { status: 'ok' } | { status: 'failing'; reason: string };

export interface Readiness {
  ready: boolean;
  checks: { server: Check; database: Check; migrations: Check };
}

const ok: Check = { status: 'ok' };
const failing = (reason: string): Check => ({ status: 'failing', reason });

class TimedOut extends Error {}

/** `work`, or a TimedOut once `ms` have passed (a query's own timeout may be longer, or none, as in PGlite). */
async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TimedOut()), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Why the database did not answer, in words safe for anyone who can reach the probe: a driver's
 * message can name hosts and users, so only a code (a SQLSTATE or a socket error) goes through.
 */
function unanswered(error: unknown, timeoutMs: number): string {
  if (error instanceof TimedOut) return `no answer within ${timeoutMs} ms`;
  const { code, name } = error as { code?: unknown; name?: unknown };
  if (name === 'KnexTimeoutError') return `no connection free within ${timeoutMs} ms`;
  return typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code) ? `the query failed (${code})` : 'the query failed';
}

// undefined_table: a database no migration has run on yet answers, but has no knex_migrations.
const UNDEFINED_TABLE = '42P01';

async function appliedMigrations(deps: Deps): Promise<Set<string>> {
  try {
    return new Set(await deps.db.knex('knex_migrations').pluck<string>('name'));
  } catch (error) {
    if ((error as { code?: unknown }).code === UNDEFINED_TABLE) return new Set();
    throw error;
  }
}

/**
 * Whether this node should get traffic: not shutting down, the database answers through the
 * pool requests use, within LATCHKEY_DB_TIMEOUT, and every migration this code knows is applied.
 * Migrations the database has and this code does not know (a newer node's, during a rolling
 * upgrade) do not count against it.
 */
export async function checkReadiness(deps: Deps, draining: boolean): Promise<Readiness> {
  const timeoutMs = deps.config.db.timeoutMs;
  const server = draining ? failing('shutting down') : ok;
  let database: Check;
  let migrations: Check;
  try {
    const applied = await within(timeoutMs, appliedMigrations(deps));
    database = ok;
    const missing = knownMigrations().filter((name) => !applied.has(name));
    migrations = missing.length === 0 ? ok : failing(`${missing.length} not applied: ${missing.join(', ')}`);
  } catch (error) {
    deps.log.debug({ err: error }, 'readiness: the database did not answer');
    database = failing(unanswered(error, timeoutMs));
    migrations = failing('unknown while the database does not answer');
  }
  return { ready: server.status === 'ok' && database.status === 'ok' && migrations.status === 'ok', checks: { server, database, migrations } };
}
