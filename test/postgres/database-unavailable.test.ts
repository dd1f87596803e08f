import test from 'ava';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/connect.js';
import { isDatabaseUnavailable, unavailableReason } from '../../src/db/unavailable.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

// The errors PostgreSQL, pg and Knex really raise when the database is away, each provoked for
// real, told apart from the errors of a database that answers and refuses. LATCHKEY_DB_TIMEOUT is
// generous where the database is expected to answer: the machine may be busy with other tests.
const TIMEOUT = '5s';

let database: TestDatabase;
let proxy: TcpProxy;
const opened: Database[] = [];

async function open(url: string, timeout = TIMEOUT): Promise<Database> {
  const db = await openDatabase(loadConfig({ DATABASE_URL: url, LATCHKEY_DB_TIMEOUT: timeout, LATCHKEY_ENV: 'test' }));
  opened.push(db);
  return db;
}

async function failureOf(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

test.before(async () => {
  database = await createTestDatabase();
  proxy = await startTcpProxy(database.env.DATABASE_URL!);
});

test.after.always(async () => {
  await Promise.all(opened.map((db) => db.close()));
  await proxy?.close();
  await database?.drop();
});

test('nothing listening: connection refused', async (t) => {
  const url = new URL(database.env.DATABASE_URL!);
  url.port = String(await freePort());
  const db = await open(url.toString());
  const error = await failureOf(db.knex.raw('SELECT 1'));
  t.is(unavailableReason(error), 'ECONNREFUSED');
});

test('a session ended by the server while it runs a query (admin_shutdown, as when PostgreSQL restarts)', async (t) => {
  const db = await open(database.env.DATABASE_URL!, '10s');
  const other = await open(database.env.DATABASE_URL!);
  const sleeping = failureOf(db.knex.raw('SELECT pg_sleep(5) AS ended_by_the_test'));
  let ended = false;
  for (let attempt = 0; !ended && attempt < 100; attempt += 1) {
    const { rows } = (await other.knex.raw(
      "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE query LIKE '%AS ended_by_the_test' AND pid <> pg_backend_pid()",
    )) as { rows: Array<{ ended: boolean }> };
    ended = rows.some((row) => row.ended);
    if (!ended) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.true(ended);
  t.is(unavailableReason(await sleeping), '57P01');
  // The next query gets a fresh connection.
  t.deepEqual((await db.knex.raw('SELECT 1 AS one')).rows, [{ one: 1 }]);
});

test('a database that stops answering: its query and the wait for a new connection time out, and the hanging connection is not reused', async (t) => {
  const db = await open(proxy.url, '1s');
  t.deepEqual((await db.knex.raw('SELECT 1 AS one')).rows, [{ one: 1 }]);
  proxy.vanish();
  try {
    // The pooled connection hangs mid-query; a second query needs a new connection, which hangs too.
    const [hanging, connecting] = await Promise.all([failureOf(db.knex.raw('SELECT 1')), failureOf(db.knex.raw('SELECT 2'))]);
    t.is(unavailableReason(hanging), 'Query read timeout');
    t.true(isDatabaseUnavailable(connecting), String(connecting));
  } finally {
    proxy.restore();
  }
  // The connection left hanging is not handed out again.
  t.deepEqual((await db.knex.raw('SELECT 1 AS one')).rows, [{ one: 1 }]);
});

test('a database that answers and refuses is not an outage', async (t) => {
  const db = await open(database.env.DATABASE_URL!);
  t.false(isDatabaseUnavailable(await failureOf(db.knex.raw('SELECT * FROM no_such_table'))));
  t.false(isDatabaseUnavailable(await failureOf(db.knex.raw('SELECT 1/0'))));
  const duplicate = failureOf(
    db.knex.transaction(async (trx) => {
      await trx.raw('CREATE TEMPORARY TABLE twice (id int PRIMARY KEY) ON COMMIT DROP');
      await trx.raw('INSERT INTO twice VALUES (1), (1)');
    }),
  );
  t.false(isDatabaseUnavailable(await duplicate));
});
