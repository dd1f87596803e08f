import test from 'ava';
import { clientSecretMatches, createClient, getClient, rotateClientSecret, updateClient } from '../../src/domain/clients.js';
import { createResource } from '../../src/domain/resources.js';
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

test('an update changes only what it names, and the result must pass the same rules as a new client', async (t) => {
  const { client } = await createClient(server.deps, testActor, {
    name: 'Editable',
    redirectUris: ['https://edit.example/cb'],
    logoUri: 'https://edit.example/logo.png',
  });
  const renamed = await updateClient(server.deps, testActor, client.clientId, { name: 'Edited', logoUri: null, accessTokenTtl: 120 });
  t.is(renamed.name, 'Edited');
  t.deepEqual(renamed.metadata.redirect_uris, ['https://edit.example/cb']);
  t.is(renamed.metadata.logo_uri, undefined, 'null clears a setting');
  t.is(renamed.metadata.access_token_ttl, 120);
  t.is(renamed.metadata.scope, client.metadata.scope);

  const emptied = await t.throwsAsync(updateClient(server.deps, testActor, client.clientId, { redirectUris: [] }), { instanceOf: LatchkeyError });
  t.truthy(emptied?.details?.redirectUris, 'a code client keeps at least one redirect URI');
  const switched = await t.throwsAsync(
    updateClient(server.deps, testActor, client.clientId, { tokenEndpointAuthMethod: 'private_key_jwt', jwksUri: 'https://edit.example/jwks' }),
    { instanceOf: LatchkeyError },
  );
  t.truthy(switched?.details?.tokenEndpointAuthMethod, 'a secret client does not silently lose its secret');
  const unknown = await t.throwsAsync(updateClient(server.deps, testActor, client.clientId, { public: true } as never), { instanceOf: LatchkeyError });
  t.is(unknown?.code, 'input.invalid');
  t.is((await getClient(server.deps, client.clientId)).name, 'Edited', 'a refused update changes nothing');
});

test('resources on update: kept ones keep their scopes, new ones get theirs, and the admin API is not a resource', async (t) => {
  await createResource(server.deps, testActor, { identifier: 'https://one.example', scopes: ['one:read'] });
  await createResource(server.deps, testActor, { identifier: 'https://two.example', scopes: ['two:read', 'two:write'] });
  const { client } = await createClient(server.deps, testActor, {
    name: 'Service',
    grantTypes: ['client_credentials'],
    resources: ['https://one.example', 'https://two.example'],
    scope: 'one:read two:read two:write',
  });
  t.deepEqual(client.resources.find((entry) => entry.identifier === 'https://two.example')?.scopes, ['two:read', 'two:write']);
  const narrowed = await updateClient(server.deps, testActor, client.clientId, { scope: 'one:read two:read' });
  t.deepEqual(narrowed.resources.map((entry) => entry.scopes), [['one:read'], ['two:read']]);
  const dropped = await updateClient(server.deps, testActor, client.clientId, { resources: ['https://two.example'] });
  t.deepEqual(dropped.resources, [{ identifier: 'https://two.example', scopes: ['two:read'] }]);
  t.is(dropped.metadata.scope, 'two:read');

  const admin = await t.throwsAsync(
    updateClient(server.deps, testActor, client.clientId, { resources: [`${server.issuer}/admin/api`], scope: 'latchkey:admin' }),
    { instanceOf: LatchkeyError },
  );
  t.truthy(admin?.details?.resources);
});

test('rotating a secret without a grace window forgets the old one; with one, the old one expires', async (t) => {
  const { client, clientSecret } = await createClient(server.deps, testActor, { name: 'Rotating', grantTypes: ['client_credentials'] });
  const first = await rotateClientSecret(server.deps, testActor, client.clientId);
  t.not(first.clientSecret, clientSecret);
  t.is(first.client.previousSecretHash, null);
  const later = new Date(Date.now() + 3_600_000);
  const second = await rotateClientSecret(server.deps, testActor, client.clientId, { graceSeconds: 600 });
  t.true(clientSecretMatches(second.client, first.clientSecret!, new Date()));
  t.false(clientSecretMatches(second.client, first.clientSecret!, later));
  t.true(clientSecretMatches(second.client, second.clientSecret!, later));
  t.false(clientSecretMatches(second.client, clientSecret!, new Date()));

  const { client: spa } = await createClient(server.deps, testActor, { name: 'SPA', public: true, redirectUris: ['https://spa.example/cb'] });
  const refused = await t.throwsAsync(rotateClientSecret(server.deps, testActor, spa.clientId), { instanceOf: LatchkeyError });
  t.is(refused?.code, 'client.no_secret');
});
