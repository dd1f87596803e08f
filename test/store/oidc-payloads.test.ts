import test from 'ava';
import { createDeps, type Deps } from '../../src/deps.js';
import { loadConfig } from '../../src/config.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { runCleanup } from '../../src/jobs/cleanup.js';
import { consumePayloads, findPayload, upsertPayloads } from '../../src/store/oidc-payloads.js';
import { createAdapterFactory } from '../../src/oidc/adapter.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { testEnv } from '../helpers/server.js';
import { createLogger } from '../../src/log.js';

let database: TestDatabase;
let deps: Deps;

test.before(async () => {
  database = await createTestDatabase();
  const config = loadConfig({ ...testEnv, ...database.env });
  deps = await createDeps(config, { log: createLogger(config) });
  await migrateLatest(deps.db);
});

test.after.always(async () => {
  await deps?.db.close();
  await database?.drop();
});

function row(expiresAt: Date | null) {
  return { payload: { kind: 'AccessToken' }, grantId: 'g', userCode: null, uid: null, accountId: null, clientId: 'c', expiresAt };
}

test.serial('an expired artifact is never read back, even before cleanup has run', async (t) => {
  const key = { model: 'AccessToken', id: 'expired-read' };
  await upsertPayloads(deps.db.knex, [{ key, row: row(new Date(Date.now() - 1000)) }]);
  t.is(await findPayload(deps.db.knex, key, new Date()), undefined);
  await upsertPayloads(deps.db.knex, [{ key, row: row(new Date(Date.now() + 60_000)) }]);
  t.truthy(await findPayload(deps.db.knex, key, new Date()));
});

test.serial('cleanup deletes expired artifacts in bounded batches and leaves live ones', async (t) => {
  const knex = deps.db.knex;
  await knex('oidc_payloads').delete();
  const past = new Date(Date.now() - 60_000);
  const future = new Date(Date.now() + 60_000);
  const expired = Array.from({ length: 2500 }, (_, index) => ({
    model: 'AccessToken', id: `old-${index}`, payload: '{}', client_id: 'c', expires_at: past,
  }));
  for (let index = 0; index < expired.length; index += 500) await knex('oidc_payloads').insert(expired.slice(index, index + 500));
  await knex('oidc_payloads').insert([
    { model: 'AccessToken', id: 'live', payload: '{}', client_id: 'c', expires_at: future },
    { model: 'Client', id: 'forever', payload: '{}', client_id: 'c', expires_at: null },
  ]);
  t.is((await runCleanup(deps))['expired provider artifacts'], 2500);
  const left = await knex('oidc_payloads').select('id').orderBy('id');
  t.deepEqual(left.map((entry: { id: string }) => entry.id), ['forever', 'live']);
});

test.serial('of concurrent consumers of one code exactly one wins', async (t) => {
  const key = { model: 'AuthorizationCode', id: 'race' };
  await upsertPayloads(deps.db.knex, [{ key, row: row(new Date(Date.now() + 60_000)) }]);
  const results = await Promise.all(Array.from({ length: 5 }, async () => (await consumePayloads(deps.db.knex, [key], new Date())).size > 0));
  t.is(results.filter(Boolean).length, 1);
});

test.serial('through the adapter, concurrent consumers of one token (one batched statement or several) see exactly one success', async (t) => {
  const adapter = createAdapterFactory(deps)('AuthorizationCode');
  await adapter.upsert('consumed-once', { jti: 'consumed-once', kind: 'AuthorizationCode', clientId: 'c' }, 60);
  const results = await Promise.allSettled(Array.from({ length: 8 }, () => adapter.consume('consumed-once')));
  t.is(results.filter((result) => result.status === 'fulfilled').length, 1);
  for (const result of results) {
    if (result.status === 'rejected') t.is((result.reason as { error?: string }).error, 'invalid_grant');
  }
});

test.serial('the adapter stores a digest of the id and no jti, and restores both on read', async (t) => {
  const adapter = createAdapterFactory(deps)('RefreshToken');
  const id = 'a-refresh-token-value-that-must-not-be-stored';
  await adapter.upsert(id, { jti: id, kind: 'RefreshToken', grantId: 'grant-1', clientId: 'c' }, 60);
  const stored = await deps.db.knex('oidc_payloads').where({ model: 'RefreshToken' });
  t.is(stored.length, 1);
  t.false(JSON.stringify(stored).includes(id));
  const found = await adapter.find(id);
  t.is(found?.jti, id);
  t.is(found?.grantId, 'grant-1');
  await adapter.consume(id);
  t.truthy((await adapter.find(id))?.consumed);
  // A second use is a reuse: the provider's own invalid_grant, never a server error.
  const error = await t.throwsAsync(adapter.consume(id));
  t.is((error as { error?: string }).error, 'invalid_grant');
});
