import test from 'ava';
import { knownMigrations } from '../../src/db/migrate.js';
import { markDraining } from '../../src/lifecycle.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// A pool of one connection that a test can hold, and a short database timeout, so "the
// database does not answer in time" can be staged on either engine.
const TIMEOUT_MS = 1000;
let server: TestServer;

test.before(async () => {
  server = await startTestServer({ LATCHKEY_DB_TIMEOUT: `${TIMEOUT_MS}ms`, LATCHKEY_DB_POOL_SIZE: '1' });
});

test.after.always(async () => {
  await server?.dispose();
});

interface Readiness {
  status: string;
  checks: Record<string, { status: string; reason?: string }>;
}

async function readyz(): Promise<{ status: number; body: Readiness; text: string; cacheControl: string | null }> {
  const response = await fetch(`${server.issuer}/readyz`);
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Readiness, text, cacheControl: response.headers.get('cache-control') };
}

/** Nothing about where the database is or how to log in to it. */
function assertNoConnectionDetails(t: import('ava').ExecutionContext, text: string) {
  for (const value of [server.config.db.url, server.config.db.dataDir, server.config.secret.value]) {
    if (value) t.false(text.includes(value), 'the body names a connection detail or secret');
  }
  t.notRegex(text, /postgres(ql)?:\/\//);
}

// Serial: the tests below change what readiness sees (a migration row, the pool, the shutdown).
test.serial('/healthz answers while the process runs', async (t) => {
  const response = await fetch(`${server.issuer}/healthz`);
  t.is(response.status, 200);
  t.deepEqual(await response.json(), { status: 'ok' });
  t.is(response.headers.get('cache-control'), 'no-store');
});

test.serial('kept-alive connections stay open longer than the 60 s idle timeout of the load balancers in front', async (t) => {
  const response = await fetch(`${server.issuer}/healthz`);
  await response.body?.cancel();
  t.is(response.headers.get('keep-alive'), 'timeout=65');
});

test.serial('/readyz is ready when the database answers and every migration is applied', async (t) => {
  const { status, body, text, cacheControl } = await readyz();
  t.is(status, 200);
  t.deepEqual(body, { status: 'ready', checks: { server: { status: 'ok' }, database: { status: 'ok' }, migrations: { status: 'ok' } } });
  t.is(cacheControl, 'no-store');
  assertNoConnectionDetails(t, text);
});

test.serial('/readyz is not ready while a migration this code knows is not applied', async (t) => {
  const latest = knownMigrations().at(-1)!;
  const knex = server.deps.db.knex;
  const row = (await knex('knex_migrations').where({ name: latest }).first()) as Record<string, unknown>;
  await knex('knex_migrations').where({ name: latest }).delete();
  try {
    const { status, body, text } = await readyz();
    t.is(status, 503);
    t.is(body.status, 'not_ready');
    t.deepEqual(body.checks.database, { status: 'ok' });
    t.is(body.checks.migrations?.status, 'failing');
    t.is(body.checks.migrations?.reason, `1 not applied: ${latest}`);
    assertNoConnectionDetails(t, text);
  } finally {
    await knex('knex_migrations').insert(row);
  }
  t.is((await readyz()).status, 200);
});

test.serial('/readyz is not ready when the database does not answer within LATCHKEY_DB_TIMEOUT, and ready again after', async (t) => {
  // The pool's one connection, held in a transaction: the probe's query cannot get an answer.
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let holding!: () => void;
  const acquired = new Promise<void>((resolve) => {
    holding = resolve;
  });
  const transaction = server.deps.db.knex.transaction(async (trx) => {
    await trx.raw('SELECT 1');
    holding();
    await held;
  });
  await acquired;
  try {
    const { status, body, text } = await readyz();
    t.is(status, 503);
    t.is(body.status, 'not_ready');
    t.is(body.checks.database?.status, 'failing');
    t.regex(body.checks.database?.reason ?? '', new RegExp(`within ${TIMEOUT_MS} ms$`));
    t.is(body.checks.migrations?.status, 'failing');
    t.deepEqual(body.checks.server, { status: 'ok' });
    assertNoConnectionDetails(t, text);
    // Alive all the same.
    t.is((await fetch(`${server.issuer}/healthz`)).status, 200);
  } finally {
    release();
    await transaction;
  }
  t.is((await readyz()).status, 200);
});

test.serial('/readyz is not ready once the server starts shutting down', async (t) => {
  markDraining(server.deps);
  const { status, body } = await readyz();
  t.is(status, 503);
  t.deepEqual(body.checks.server, { status: 'failing', reason: 'shutting down' });
  t.deepEqual(body.checks.database, { status: 'ok' });
});
