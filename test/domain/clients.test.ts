import test from 'ava';
import { createClient } from '../../src/domain/clients.js';
import { LatchkeyError } from '../../src/errors.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { testActor } from '../helpers/actor.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

test('a sign-in client must list openid, so the provider never sees it without a scope allow-list', async (t) => {
  const error = await t.throwsAsync(
    createClient(server.deps, testActor, {
      name: 'API only',
      redirectUris: ['https://app.example/cb'],
      resources: ['https://orders.example'],
      scope: 'orders:read',
    }),
    { instanceOf: LatchkeyError },
  );
  t.is(error?.code, 'input.invalid');
  t.truthy(error?.details?.scope);
  t.is(await server.deps.db.knex('clients').where({ name: 'API only' }).first(), undefined);
  t.is(await server.deps.db.knex('resources').where({ identifier: 'https://orders.example' }).first(), undefined);
});

test('a sign-in client with openid and API scopes gets OIDC scopes for sign-in and API scopes per resource', async (t) => {
  const { client } = await createClient(server.deps, testActor, {
    name: 'Orders app',
    redirectUris: ['https://app.example/cb'],
    resources: ['https://orders2.example'],
    scope: 'openid email orders:read',
  });
  t.is(client.metadata.scope, 'openid email orders:read');
  t.deepEqual(client.resources, [{ identifier: 'https://orders2.example', scopes: ['orders:read'] }]);
});

test('an API scope that belongs to no listed resource is refused and nothing is written', async (t) => {
  const error = await t.throwsAsync(
    createClient(server.deps, testActor, { name: 'Stray', grantTypes: ['client_credentials'], scope: 'stray:read' }),
    { instanceOf: LatchkeyError },
  );
  t.is(error?.code, 'input.invalid');
  t.is(await server.deps.db.knex('clients').where({ name: 'Stray' }).first(), undefined);
});
