import test from 'ava';
import { clientSecretMatches, createClient, DEVICE_CODE_GRANT, getClient, rotateClientSecret, updateClient } from '../../src/domain/clients.js';
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

const ecJwks = async () => {
  const { generateKeyPairSync } = await import('node:crypto');
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] };
};

test('protocol requirements are stored under their RFC names only when on, and an update switches them off', async (t) => {
  const { client } = await createClient(server.deps, testActor, {
    name: 'Strict app',
    redirectUris: ['https://strict.example/cb'],
    requirePushedAuthorizationRequests: true,
    dpopBoundAccessTokens: true,
    refreshTokenReuseGrace: 10,
  });
  t.true(client.metadata.require_pushed_authorization_requests);
  t.true(client.metadata.dpop_bound_access_tokens);
  t.is(client.metadata.refresh_token_reuse_grace, 10);
  t.false('require_signed_request_object' in client.metadata);

  const relaxed = await updateClient(server.deps, testActor, client.clientId, { requirePushedAuthorizationRequests: false, refreshTokenReuseGrace: 0 });
  t.false('require_pushed_authorization_requests' in relaxed.metadata, 'off is not stored');
  t.true(relaxed.metadata.dpop_bound_access_tokens, 'what an update does not name stays');
  t.is(relaxed.metadata.refresh_token_reuse_grace, 0, '0 is a setting of its own: off for this client whatever the server default');
  const cleared = await updateClient(server.deps, testActor, client.clientId, { refreshTokenReuseGrace: null, name: 'Strict app 2' });
  t.false('refresh_token_reuse_grace' in cleared.metadata, 'null falls back to the server default');
  t.true(cleared.metadata.dpop_bound_access_tokens);
});

test('the refresh reuse grace is whole seconds from 0 to 300, for clients with refresh tokens only', async (t) => {
  const web = { name: 'Grace', redirectUris: ['https://grace.example/cb'] };
  for (const [value, message] of [
    [301, 'must be at most 5 minutes'],
    [-1, 'must be at least 0 seconds'],
    [1.5, 'must be whole seconds'],
  ] as const) {
    const error = await t.throwsAsync(createClient(server.deps, testActor, { ...web, refreshTokenReuseGrace: value }), { instanceOf: LatchkeyError });
    t.is(error?.details?.refreshTokenReuseGrace, message);
  }
  t.is((await createClient(server.deps, testActor, { ...web, refreshTokenReuseGrace: 300 })).client.metadata.refresh_token_reuse_grace, 300);
  const noRefresh = await t.throwsAsync(
    createClient(server.deps, testActor, { ...web, grantTypes: ['authorization_code'], refreshTokenReuseGrace: 10 }),
    { instanceOf: LatchkeyError },
  );
  t.is(noRefresh?.details?.refreshTokenReuseGrace, 'only applies to clients with the refresh_token grant');
});

test('require_signed_request_object needs the client’s keys; PAR is for clients that send browsers to sign in', async (t) => {
  const unsigned = await t.throwsAsync(
    createClient(server.deps, testActor, { name: 'No keys', redirectUris: ['https://jar.example/cb'], requireSignedRequestObject: true }),
    { instanceOf: LatchkeyError },
  );
  t.is(unsigned?.details?.requireSignedRequestObject, 'needs the public keys of the client (jwks or jwks_uri) to check its request objects');

  const { client } = await createClient(server.deps, testActor, {
    name: 'Keys',
    redirectUris: ['https://jar.example/cb'],
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwks: await ecJwks(),
    requireSignedRequestObject: true,
  });
  t.true(client.metadata.require_signed_request_object);
  const keyless = await t.throwsAsync(updateClient(server.deps, testActor, client.clientId, { jwks: null }), { instanceOf: LatchkeyError });
  t.truthy(keyless?.details?.requireSignedRequestObject, 'the keys cannot go while signed request objects are required');
  t.true((await updateClient(server.deps, testActor, client.clientId, { jwks: null, jwksUri: 'https://jar.example/jwks' })).metadata.require_signed_request_object);

  const machine = await t.throwsAsync(
    createClient(server.deps, testActor, { name: 'Machine', grantTypes: ['client_credentials'], requirePushedAuthorizationRequests: true }),
    { instanceOf: LatchkeyError },
  );
  t.is(machine?.details?.requirePushedAuthorizationRequests, 'only applies to clients with the authorization_code grant');
  const dpopMachine = await createClient(server.deps, testActor, { name: 'DPoP machine', grantTypes: ['client_credentials'], dpopBoundAccessTokens: true });
  t.true(dpopMachine.client.metadata.dpop_bound_access_tokens, 'DPoP applies to any grant');
});

test('a device client needs no redirect URI, gets the sign-in scopes and may have refresh tokens', async (t) => {
  const { client } = await createClient(server.deps, testActor, {
    name: 'CLI',
    public: true,
    grantTypes: [DEVICE_CODE_GRANT, 'refresh_token'],
  });
  t.deepEqual(client.metadata.grant_types, [DEVICE_CODE_GRANT, 'refresh_token']);
  t.deepEqual(client.metadata.redirect_uris, []);
  t.deepEqual(client.metadata.response_types, [], 'no authorization endpoint responses');
  t.is(client.metadata.scope, 'openid profile email offline_access');

  const redirects = await t.throwsAsync(
    createClient(server.deps, testActor, { name: 'TV', grantTypes: [DEVICE_CODE_GRANT], redirectUris: ['https://tv.example/cb'] }),
    { instanceOf: LatchkeyError },
  );
  t.truthy(redirects?.details?.redirectUris, 'redirect URIs are for authorization_code');
  const noOpenid = await t.throwsAsync(
    createClient(server.deps, testActor, { name: 'TV', grantTypes: [DEVICE_CODE_GRANT], resources: ['https://tv-api.example'], scope: 'tv:watch' }),
    { instanceOf: LatchkeyError },
  );
  t.truthy(noOpenid?.details?.scope, 'a device client signs users in, so it lists openid');
  const refreshAlone = await t.throwsAsync(createClient(server.deps, testActor, { name: 'Refresh only', grantTypes: ['refresh_token'] }), { instanceOf: LatchkeyError });
  t.is(refreshAlone?.details?.grantTypes, 'refresh_token needs authorization_code or the device code grant');
});
