import test from 'ava';
import { loadConfig } from '../../src/config.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { CLEANUP_JOB, runCleanup } from '../../src/jobs/cleanup.js';
import { every } from '../../src/jobs/every.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { testEnv } from '../helpers/server.js';

// Two processes of one deployment: two Deps, each with its own pools, over one database.
let database: TestDatabase;
let a: Deps;
let b: Deps;

test.before(async () => {
  database = await createTestDatabase();
  const config = loadConfig({ ...testEnv, ...database.env });
  a = await createDeps(config);
  b = await createDeps(config);
  await migrateLatest(a.db, { sealer: a.sealer });
});

test.after.always(async () => {
  await a?.db.close();
  await b?.db.close();
  await database?.drop();
});

const later = (ms: number) => new Date(Date.now() + ms);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `count` throttle rows under `prefix` that expired a minute ago, in one statement. */
async function expiredThrottles(prefix: string, count: number): Promise<void> {
  await a.db.knex.raw(
    `INSERT INTO throttles (key, failures, blocked_until, expires_at)
     SELECT ? || n, 1, NULL, ? FROM generate_series(1, ?) AS n`,
    [prefix, later(-60_000), count],
  );
}

async function remaining(prefix: string): Promise<number> {
  const [row] = await a.db.knex('throttles').where('key', 'like', `${prefix}%`).count<Array<{ n: string }>>('* as n');
  return Number(row?.n);
}

/** One run of the cleanup job as each process's timer starts it. */
function cleanupRun(deps: Deps): Promise<Record<string, number> | undefined> {
  return deps.db.withJobLock(CLEANUP_JOB, () => runCleanup(deps));
}

test.serial('while one process holds a job lock, the same job on another process skips its run and other jobs still run', async (t) => {
  let ranOnB = false;
  const heldByA = await a.db.withJobLock('nightly report', async () => {
    t.is(
      await b.db.withJobLock('nightly report', async () => {
        ranOnB = true;
      }),
      undefined,
    );
    t.is(await b.db.withJobLock('another job', async () => 'ran'), 'ran');
    return 'ran on A';
  });
  t.is(heldByA, 'ran on A');
  t.false(ranOnB);
  t.is(await b.db.withJobLock('nightly report', async () => 'ran on B'), 'ran on B', 'the lock is free again once A is done');
});

test.serial('a job that runs on one node at a time never runs on two at once, and goes on elsewhere when its holder stops', async (t) => {
  const runs: Array<'a' | 'b'> = [];
  let releaseA!: () => void;
  const aHolds = new Promise<void>((resolve) => {
    releaseA = resolve;
  });
  let aStarted!: () => void;
  const aRunning = new Promise<void>((resolve) => {
    aStarted = resolve;
  });
  const jobA = every(
    a,
    'shared job',
    50,
    async () => {
      runs.push('a');
      aStarted();
      await aHolds;
    },
    { oneNodeAtATime: true },
  );
  await aRunning;
  const jobB = every(
    b,
    'shared job',
    50,
    async () => {
      runs.push('b');
    },
    { oneNodeAtATime: true },
  );
  try {
    // Twenty of B's ticks while A is in its run: every one of them finds the lock taken.
    await sleep(1000);
    t.deepEqual(runs, ['a']);

    const stoppedA = jobA.stop();
    releaseA();
    await stoppedA;
    const deadline = Date.now() + 10_000;
    while (!runs.includes('b') && Date.now() < deadline) await sleep(50);
    t.deepEqual(runs.slice(0, 2), ['a', 'b']);
  } finally {
    releaseA();
    await Promise.all([jobA.stop(), jobB.stop()]);
  }
});

test.serial('stopping a job tells the run in progress to stop and waits for it to end', async (t) => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => {
    started = resolve;
  });
  let ended = false;
  const job = every(
    a,
    'long job',
    20,
    async (signal) => {
      started();
      while (!signal.aborted) await sleep(20);
      ended = true;
    },
    { oneNodeAtATime: true },
  );
  await running;
  await job.stop();
  t.true(ended);
  t.is(await b.db.withJobLock('long job', async () => 'free'), 'free', 'its lock went with it');
});

test.serial('cleanup started on two processes at once deletes each expired row once, and both runs finish', async (t) => {
  const prefix = 'together-';
  await expiredThrottles(prefix, 2500);
  await a.db.knex('throttles').insert({ key: `${prefix}live`, failures: 1, blocked_until: null, expires_at: later(60_000) });

  const results = await Promise.all([cleanupRun(a), cleanupRun(b)]);
  const deleted = results.reduce((sum, counts) => sum + (counts?.['expired throttles'] ?? 0), 0);
  t.is(deleted, 2500);
  t.true(results.some((counts) => counts !== undefined));
  t.deepEqual(await a.db.knex('throttles').where('key', 'like', `${prefix}%`).pluck('key'), [`${prefix}live`]);

  // The deleters themselves are safe to race as well: a row is deleted by one run, never counted twice.
  await expiredThrottles(prefix, 2500);
  const raced = await Promise.all([runCleanup(a), runCleanup(b)]);
  t.is(raced.reduce((sum, counts) => sum + counts['expired throttles']!, 0), 2500);
  t.is(await remaining(prefix), 1);
});

test.serial('a backlog bigger than one run is deleted over several runs, each statement a bounded batch', async (t) => {
  const prefix = 'backlog-';
  await expiredThrottles(prefix, 21_500);
  const batches: number[] = [];
  const watch = (response: unknown, query: { sql: string }) => {
    if (query.sql.startsWith('delete from "throttles"') && Array.isArray(response)) batches.push(response.length);
  };
  a.db.knex.on('query-response', watch);
  try {
    const first = await cleanupRun(a);
    t.is(first?.['expired throttles'], 20_000, 'one run stops after its batches');
    t.is(await remaining(prefix), 1500);
    const stopped = await runCleanup(a, AbortSignal.abort());
    t.is(stopped['expired throttles'], 0, 'a stopped run deletes no further batch');
    const second = await cleanupRun(a);
    t.is(second?.['expired throttles'], 1500);
    t.is(await remaining(prefix), 0);
  } finally {
    a.db.knex.off('query-response', watch);
  }
  t.true(batches.length >= 22);
  t.true(
    batches.every((size) => size <= 1000),
    `batch sizes: ${batches.join(', ')}`,
  );
});
