import test from 'ava';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/connect.js';
import { migrateLatest, rollbackLast } from '../../src/db/migrate.js';
import { sha256 } from '../../src/util/digest.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { postWithBasic } from '../helpers/rp.js';
import { startTestServer, testEnv } from '../helpers/server.js';

let database: TestDatabase;
test.before(async () => {
  database = await createTestDatabase();
});
test.after.always(() => database?.drop());

test('upgrading a foundation database hashes its plaintext client secrets and grant ids, and the old secret still authenticates', async (t) => {
  const config = loadConfig({ ...testEnv, ...database.env });
  const db = await openDatabase(config, { lockHolder: 'test' });
  try {
    // A PostgreSQL test database starts empty, an embedded one already migrated.
    await migrateLatest(db);
    // Back to the foundation's schema, through whatever later migrations exist.
    let rolledBack: string[] = [];
    while (!rolledBack.includes('20261124100000_admin')) {
      const step = await rollbackLast(db);
      if (step.length === 0) throw new Error('the admin migration was never rolled back');
      rolledBack = [...rolledBack, ...step];
    }
    await db.knex('clients').insert({
      client_id: 'legacy',
      name: 'Legacy service',
      client_secret: 'legacy-plaintext-secret',
      metadata: JSON.stringify({
        redirect_uris: [],
        post_logout_redirect_uris: [],
        grant_types: ['client_credentials'],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: '',
        cors_origins: [],
      }),
    });
    await db.knex('oidc_payloads').insert([
      { model: 'Grant', id: sha256('raw-grant'), payload: '{}', account_id: 'someone', client_id: 'legacy' },
      { model: 'AccessToken', id: sha256('raw-token'), payload: '{}', grant_id: 'raw-grant', client_id: 'legacy' },
    ]);

    t.is((await migrateLatest(db))[0], '20261124100000_admin');

    const client = await db.knex('clients').where({ client_id: 'legacy' }).first();
    t.false('client_secret' in client, 'the plaintext column is gone');
    t.is(client.client_secret_hash, sha256('legacy-plaintext-secret'));
    t.false(JSON.stringify(client).includes('legacy-plaintext-secret'));
    const payloads = await db.knex('oidc_payloads').select('model', 'grant_id').orderBy('model');
    t.deepEqual(payloads, [
      { model: 'AccessToken', grant_id: sha256('raw-grant') },
      { model: 'Grant', grant_id: sha256('raw-grant') },
    ]);
  } finally {
    await db.close();
  }

  const server = await startTestServer({}, database);
  try {
    const token = await postWithBasic(`${server.issuer}/token`, { clientId: 'legacy', clientSecret: 'legacy-plaintext-secret' }, { grant_type: 'client_credentials' });
    t.is(token.status, 200, await token.clone().text());
    const wrong = await postWithBasic(`${server.issuer}/token`, { clientId: 'legacy', clientSecret: sha256('legacy-plaintext-secret') }, { grant_type: 'client_credentials' });
    t.is(wrong.status, 401, 'the stored digest is not a secret');
  } finally {
    await server.close();
  }
});
