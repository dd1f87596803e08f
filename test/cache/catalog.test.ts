import test from 'ava';
import { createCatalog } from '../../src/cache/catalog.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/connect.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { insertClient } from '../../src/store/clients.js';
import { insertProvider } from '../../src/store/upstream-providers.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { testEnv } from '../helpers/server.js';

let database: TestDatabase;
let db: Database;

test.before(async () => {
  database = await createTestDatabase();
  db = await openDatabase(loadConfig({ ...testEnv, ...database.env }));
  await migrateLatest(db);
});

test.after.always(async () => {
  await db?.close();
  await database?.drop();
});

const metadata = {
  redirect_uris: [],
  post_logout_redirect_uris: [],
  grant_types: ['client_credentials'],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic' as const,
  scope: '',
  cors_origins: [],
};

const stored = { clientSecretHash: null, previousSecretHash: null, previousSecretExpiresAt: null, firstParty: false, adminAccess: false, registeredDynamically: false };

test('an unknown client id is not remembered, so lookups of made-up ids cannot pile up', async (t) => {
  const catalog = createCatalog(db.knex);
  t.is(await catalog.client('later'), undefined);
  // Written behind the catalog's back (no change counter): only a forgotten miss can find it.
  await insertClient(db.knex, { clientId: 'later', name: 'Later', ...stored, metadata, resources: [] });
  t.is((await catalog.client('later'))?.name, 'Later');
});

test('a known client is served from memory until its topic is invalidated', async (t) => {
  const catalog = createCatalog(db.knex);
  await insertClient(db.knex, { clientId: 'cached', name: 'Before', ...stored, metadata, resources: [] });
  t.is((await catalog.client('cached'))?.name, 'Before');
  await db.knex('clients').where({ client_id: 'cached' }).update({ name: 'After' });
  t.is((await catalog.client('cached'))?.name, 'Before');
  catalog.invalidate('clients');
  t.is((await catalog.client('cached'))?.name, 'After');
});

test('the enabled upstream providers are read once and again only after their topic is invalidated', async (t) => {
  const catalog = createCatalog(db.knex);
  const before = (await catalog.upstreamProviders()).length;
  const provider = { kind: 'oidc' as const, displayName: 'Corp', issuer: 'https://idp.example', clientId: 'c', sealedClientSecret: null, scopes: ['openid'], emailDomains: ['corp.example'], settings: {} };
  await insertProvider(db.knex, { ...provider, id: 'cached-corp', enabled: true });
  await insertProvider(db.knex, { ...provider, id: 'cached-off', emailDomains: [], enabled: false });
  t.is((await catalog.upstreamProviders()).length, before);
  catalog.invalidate('upstream_providers');
  const ids = (await catalog.upstreamProviders()).map((entry) => entry.id);
  t.true(ids.includes('cached-corp'));
  t.false(ids.includes('cached-off'), 'a disabled provider is not on the login page');
});
