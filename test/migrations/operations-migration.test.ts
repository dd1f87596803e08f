import test from 'ava';
import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, generateKeyPair, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/connect.js';
import { migrateLatest, rollbackLast } from '../../src/db/migrate.js';
import { loadKeys } from '../../src/domain/keys.js';
import { createResource } from '../../src/domain/resources.js';
import { createSealer } from '../../src/secrets/sealer.js';
import { testActor } from '../helpers/actor.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { registerRp } from '../helpers/rp.js';
import { startTestServer, testEnv } from '../helpers/server.js';

const OPERATIONS = '20261126000000_operations';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const;

let database: TestDatabase;
test.before(async () => {
  database = await createTestDatabase();
});
test.after.always(() => database?.drop());

/** A key as the foundation stored it: the whole private JWK, in plaintext. */
async function plaintextKey(alg: 'ES256' | 'RS256'): Promise<JWK & { kid: string }> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg, use: 'sig' };
}

test('upgrading seals plaintext signing keys and cookie secrets; the server signs with the same kids; a wrong master key is named', async (t) => {
  const config = loadConfig({ ...testEnv, ...database.env });
  const sealer = createSealer(testEnv.LATCHKEY_SECRET!);
  const es = await plaintextKey('ES256');
  const rs = await plaintextKey('RS256');
  const cookieSecret = 'plaintext-cookie-secret-0123456789';

  const db = await openDatabase(config, { lockHolder: 'test' });
  try {
    // A PostgreSQL test database starts empty, an embedded one already migrated.
    await migrateLatest(db, { sealer });
    // Back to the schema before this migration, through whatever later migrations exist.
    let rolledBack: string[] = [];
    while (!rolledBack.includes(OPERATIONS)) {
      const step = await rollbackLast(db, { sealer });
      if (step.length === 0) throw new Error('the operations migration was never rolled back');
      rolledBack = [...rolledBack, ...step];
    }
    await db.knex('signing_keys').insert([
      { kid: es.kid, alg: 'ES256', private_jwk: JSON.stringify(es), state: 'active' },
      { kid: rs.kid, alg: 'RS256', private_jwk: JSON.stringify(rs), state: 'active' },
    ]);
    await db.knex('cookie_secrets').insert({ secret: cookieSecret });

    t.true((await migrateLatest(db, { sealer })).includes(OPERATIONS));

    const keyRows = await db.knex('signing_keys').select('*');
    const secretRows = await db.knex('cookie_secrets').select('*');
    const stored = JSON.stringify([keyRows, secretRows]);
    for (const jwk of [es, rs]) {
      for (const member of PRIVATE_MEMBERS) {
        const value = (jwk as Record<string, unknown>)[member];
        if (typeof value === 'string') t.false(stored.includes(value), `${jwk.alg} ${member} is not stored in plaintext`);
      }
    }
    t.false(stored.includes(cookieSecret), 'the cookie secret is not stored in plaintext');
    for (const row of keyRows) {
      t.false('private_jwk' in row);
      const publicJwk = (typeof row.public_jwk === 'string' ? JSON.parse(row.public_jwk) : row.public_jwk) as Record<string, unknown>;
      t.deepEqual(PRIVATE_MEMBERS.filter((member) => member in publicJwk), [], 'the public JWK holds no private member');
    }
    t.deepEqual(
      secretRows.map((row) => Object.keys(row).sort()),
      [['activates_at', 'created_at', 'id', 'retires_at', 'sealed_secret']],
    );
  } finally {
    await db.close();
  }

  const server = await startTestServer({}, database);
  try {
    const published = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    t.deepEqual(published.keys.map((key) => key.kid).sort(), [es.kid, rs.kid].sort(), 'no new keys were made: the sealed ones are in service');
    t.deepEqual((await loadKeys(server.deps)).cookieSecrets, [cookieSecret], 'the cookie secret opens to what it was');

    const api = 'https://migrated.example';
    await createResource(server.deps, testActor, { identifier: api, scopes: ['read'] });
    const rp = await registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [], resources: [api], scope: 'read' });
    const token = await oidc.clientCredentialsGrant(rp.config, { resource: api, scope: 'read' });
    t.is(decodeProtectedHeader(token.access_token).kid, es.kid, 'the migrated ES256 key signs');
  } finally {
    await server.close();
  }

  await t.throwsAsync(startTestServer({ LATCHKEY_SECRET: 'some-other-master-key-0123456789abcdefghijklmnop' }, database), {
    message: /was encrypted with a different master key: LATCHKEY_SECRET must be the one this database was set up with/,
  });
});
