import http from 'node:http';
import test from 'ava';
import knexFactory from 'knex';
import * as oidc from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { lines, runCli, spawnServer, waitUntilServing, type ServerProcess } from '../helpers/processes.js';
import { basic } from '../helpers/rp.js';
import { freePort } from '../helpers/server.js';

// `latchkey serve --workers 2` on a fresh database, as an operator runs it: the steps build on
// each other (the same group throughout), so they run in order.

const POOL_SIZE = 3;

let database: TestDatabase;
let group: ServerProcess;
let client: { id: string; secret: string };
let tokensBeforeKill: number;

interface LogLine {
  msg: string;
  pid?: number;
}

function logLines(): LogLine[] {
  return lines(group.output().stdout).flatMap((line) => {
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });
}

/** The pid of every worker that has started listening, in order. */
function workerPids(): number[] {
  return logLines()
    .filter((line) => line.msg === 'Latchkey is listening')
    .map((line) => line.pid!);
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}:\n${group.output().stdout}\n${group.output().stderr}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A client_credentials grant on a connection of its own: the primary hands each new connection
 * to the next worker in turn, so a run of these is spread over the workers.
 */
function tokenOnNewConnection(): Promise<number> {
  const body = new URLSearchParams({ grant_type: 'client_credentials' }).toString();
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port: group.port,
        method: 'POST',
        path: '/token',
        agent: false,
        headers: {
          authorization: basic(client.id, client.secret),
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        response.resume().once('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.once('error', reject);
    request.end(body);
  });
}

async function scrape(): Promise<string> {
  const response = await fetch(`${group.issuer}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}: ${await response.text()}`);
  return response.text();
}

/** The value of one series in a Prometheus exposition; 0 when it is absent. */
function valueOf(exposition: string, series: string): number {
  const line = exposition.split('\n').find((entry) => entry.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const TOKENS = 'latchkey_tokens_issued_total{grant_type="client_credentials"}';

test.before(async () => {
  database = await createTestDatabase();
  group = spawnServer({ ...database.env, LATCHKEY_LOG_LEVEL: 'info', LATCHKEY_DB_POOL_SIZE: String(POOL_SIZE) }, await freePort(), ['--workers', '2']);
  await waitUntilServing(group);
  await until('two workers to listen', () => (workerPids().length >= 2 ? true : undefined));
  const created = await runCli(['clients', 'create', '--name', 'Machine', '--grant', 'client_credentials', '--json'], database.env);
  if (created.code !== 0) throw new Error(`clients create failed: ${created.stderr}`);
  const parsed = JSON.parse(created.stdout) as { client_id: string; client_secret: string };
  client = { id: parsed.client_id, secret: parsed.client_secret };
});

test.after.always(async () => {
  await group?.kill();
  await database?.drop();
});

test.serial('two worker processes listen on the one port, over one set of migrations and keys', async (t) => {
  const pids = workerPids();
  t.is(new Set(pids).size, 2);
  t.false(pids.includes(group.pid));
  t.true(pids.every(isRunning));

  const knex = knexFactory({ client: 'pg', connection: database.env.DATABASE_URL!, pool: { min: 0, max: 1 } });
  try {
    const keys = await knex('signing_keys').select('alg').count('* as n').groupBy('alg').orderBy('alg');
    t.deepEqual(
      keys.map((row) => ({ alg: row.alg, n: Number(row.n) })),
      [
        { alg: 'ES256', n: 1 },
        { alg: 'RS256', n: 1 },
      ],
    );
  } finally {
    await knex.destroy();
  }
});

test.serial('a client_credentials token works', async (t) => {
  const config = await oidc.discovery(new URL(group.issuer), client.id, undefined, oidc.ClientSecretBasic(client.secret), {
    execute: [oidc.allowInsecureRequests],
  });
  const tokens = await oidc.clientCredentialsGrant(config);
  t.is(tokens.token_type, 'bearer');
  t.is(typeof tokens.access_token, 'string');
});

test.serial('/metrics adds up the metrics of every worker', async (t) => {
  const before = await scrape();
  // Each worker's pool is reported, so the group's total is twice one worker's.
  t.is(valueOf(before, 'latchkey_db_pool_max_connections{pool="main"}'), 2 * POOL_SIZE);

  const statuses = [];
  for (let index = 0; index < 10; index += 1) statuses.push(await tokenOnNewConnection());
  t.deepEqual(statuses, new Array(10).fill(200));
  const expected = valueOf(before, TOKENS) + 10;
  tokensBeforeKill = await until('the counter to add up', async () => {
    const value = valueOf(await scrape(), TOKENS);
    return value === expected ? value : undefined;
  });
  t.is(tokensBeforeKill, expected);
});

test.serial('a worker killed with SIGKILL is replaced, and the service keeps answering meanwhile', async (t) => {
  const [victim, survivor] = workerPids();
  process.kill(victim!, 'SIGKILL');
  await until('the primary to notice', () => (logLines().some((line) => line.msg === 'a worker stopped unexpectedly; starting another' && line.pid === victim) ? true : undefined));

  // Both workers had issued tokens: what the dead one counted is gone, what the survivor counted is not.
  const survivorTokens = valueOf(await scrape(), TOKENS);
  t.true(survivorTokens > 0 && survivorTokens < tokensBeforeKill, `${survivorTokens} of ${tokensBeforeKill}`);

  for (let index = 0; index < 4; index += 1) t.is(await tokenOnNewConnection(), 200);

  const replacement = await until('a replacement worker', () => workerPids().find((pid) => pid !== victim && pid !== survivor));
  t.true(isRunning(replacement));
  t.true(isRunning(survivor!));
  for (let index = 0; index < 4; index += 1) t.is(await tokenOnNewConnection(), 200);
});

test.serial('SIGTERM to the primary drains every worker, and the primary exits 0 once they have exited', async (t) => {
  const pids = workerPids().filter(isRunning);
  t.is(pids.length, 2);
  t.deepEqual(await group.stop(), { code: 0, signal: null });
  t.deepEqual(pids.filter(isRunning), []);
  const stopped = logLines().filter((line) => line.msg === 'stopped');
  t.is(stopped.length, 2, 'each worker drained and said so');
});
