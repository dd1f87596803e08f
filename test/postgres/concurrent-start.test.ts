import fs from 'node:fs/promises';
import test from 'ava';
import knexFactory from 'knex';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { repoRoot, runCli, spawnServer, waitUntilServing, type ServerProcess } from '../helpers/processes.js';
import { freePort } from '../helpers/server.js';

const databases: TestDatabase[] = [];
const servers: ServerProcess[] = [];

test.after.always(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await Promise.all(databases.map((database) => database.drop()));
});

async function freshDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  databases.push(database);
  return database;
}

async function migrationNames(): Promise<string[]> {
  return (await fs.readdir(new URL('migrations/', `file://${repoRoot}`)))
    .filter((file) => /^\d{14}_[a-z0-9_]+\.ts$/.test(file))
    .sort()
    .map((file) => file.replace(/\.ts$/, ''));
}

async function kids(issuer: string): Promise<string[]> {
  const response = await fetch(`${issuer}/jwks`);
  const { keys } = (await response.json()) as { keys: Array<{ kid: string }> };
  return keys.map((key) => key.kid).sort();
}

test('two servers started together on an empty database agree on one key set', async (t) => {
  const database = await freshDatabase();
  const [portA, portB] = await Promise.all([freePort(), freePort()]);
  const a = spawnServer(database.env, portA);
  const b = spawnServer(database.env, portB === portA ? await freePort() : portB);
  servers.push(a, b);
  await Promise.all([waitUntilServing(a), waitUntilServing(b)]);

  const knex = knexFactory({ client: 'pg', connection: database.env.DATABASE_URL!, pool: { min: 0, max: 1 } });
  try {
    const keys = (await knex('signing_keys').select('alg').count('* as n').groupBy('alg').orderBy('alg')).map((row) => ({ alg: row.alg, n: Number(row.n) }));
    t.deepEqual(keys, [
      { alg: 'ES256', n: 1 },
      { alg: 'RS256', n: 1 },
    ]);
    const [secrets] = await knex('cookie_secrets').count('* as n');
    t.is(Number(secrets?.n), 1);
    const migrations = (await knex('knex_migrations').select('name').orderBy('name')).map((row: { name: string }) => row.name);
    t.deepEqual(migrations, await migrationNames());
  } finally {
    await knex.destroy();
  }

  const [kidsA, kidsB] = await Promise.all([kids(a.issuer), kids(b.issuer)]);
  t.is(kidsA.length, 2);
  t.deepEqual(kidsA, kidsB);
});

test('latchkey migrate applies the migrations to a fresh database, then has nothing left to do', async (t) => {
  const database = await freshDatabase();
  const first = await runCli(['migrate', '--json'], database.env);
  t.is(first.code, 0, first.stderr);
  t.deepEqual(JSON.parse(first.stdout), { applied: await migrationNames() });
  const again = await runCli(['migrate', '--json'], database.env);
  t.is(again.code, 0, again.stderr);
  t.deepEqual(JSON.parse(again.stdout), { applied: [] });
});
