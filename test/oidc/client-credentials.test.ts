import { randomBytes } from 'node:crypto';
import test from 'ava';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { createClient, type CreateClientInput } from '../../src/domain/clients.js';
import { createResource } from '../../src/domain/resources.js';
import { LatchkeyError } from '../../src/errors.js';
import { postWithBasic, registerRp, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { testActor } from '../helpers/actor.js';

let server: TestServer;
let tokenEndpoint: string;
let introspectionEndpoint: string;

test.before(async () => {
  server = await startTestServer();
  tokenEndpoint = `${server.issuer}/token`;
  introspectionEndpoint = `${server.issuer}/token/introspection`;
});

test.after.always(async () => {
  await server?.dispose();
});

function apiIdentifier(): string {
  return `https://api-${randomBytes(4).toString('hex')}.example/`;
}

/** A confidential machine client: client_credentials only, no redirect URIs. */
function machineClient(input: Partial<CreateClientInput> = {}): Promise<RelyingParty> {
  return registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [], ...input });
}

function isJwt(token: string): boolean {
  try {
    decodeProtectedHeader(token);
    return true;
  } catch {
    return false;
  }
}

async function introspect(client: RelyingParty, token: string): Promise<Record<string, unknown>> {
  const response = await postWithBasic(introspectionEndpoint, client, { token });
  if (response.status !== 200) throw new Error(`introspection answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

test('without a resource a machine client gets an opaque token that it can introspect', async (t) => {
  const client = await machineClient();
  const tokens = await oidc.clientCredentialsGrant(client.config);
  t.is(tokens.token_type, 'bearer');
  t.false(isJwt(tokens.access_token));
  const details = await introspect(client, tokens.access_token);
  t.is(details.active, true);
  t.is(details.client_id, client.clientId);
  t.is(details.sub, undefined);
});

test('with a resource a machine client gets an ES256 at+jwt for that API carrying only the scopes it is allowed', async (t) => {
  const api = apiIdentifier();
  await createResource(server.deps, testActor, { identifier: api, scopes: ['orders:read', 'orders:write'] });
  const client = await machineClient({ resources: [api], scope: 'orders:read' });

  const tokens = await oidc.clientCredentialsGrant(client.config, { resource: api, scope: 'orders:read orders:write' });
  t.is(tokens.scope, 'orders:read');
  const header = decodeProtectedHeader(tokens.access_token);
  t.is(header.typ, 'at+jwt');
  t.is(header.alg, 'ES256');

  // As an API would: the key set fetched over HTTP from the advertised jwks_uri.
  const jwksUri = client.config.serverMetadata().jwks_uri!;
  const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(jwksUri)), {
    issuer: server.issuer,
    audience: api,
    typ: 'at+jwt',
    algorithms: ['ES256'],
  });
  t.is(payload.aud, api);
  t.is(payload.scope, 'orders:read');
  t.is(payload.client_id, client.clientId);
  t.is(payload.sub, client.clientId);
  t.is(typeof payload.exp, 'number');
  t.is(payload.exp! - payload.iat!, server.config.tokens.accessTtl);
});

test('an API with its own access token lifetime gets tokens that live exactly that long', async (t) => {
  const api = apiIdentifier();
  await createResource(server.deps, testActor, { identifier: api, scopes: ['short:read'], accessTokenTtl: 300 });
  const client = await machineClient({ resources: [api], scope: 'short:read' });
  const tokens = await oidc.clientCredentialsGrant(client.config, { resource: api, scope: 'short:read' });
  t.is(tokens.expires_in, 300);
  const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(client.config.serverMetadata().jwks_uri!)), { audience: api });
  t.is(payload.exp! - payload.iat!, 300);
});

test('an unregistered resource is refused with invalid_target', async (t) => {
  const client = await machineClient();
  const response = await postWithBasic(tokenEndpoint, client, {
    grant_type: 'client_credentials',
    resource: 'https://nobody-registered-this.example/',
  });
  t.is(response.status, 400);
  t.is(((await response.json()) as { error: string }).error, 'invalid_target');
});

test('a registered resource the client was not given is refused with invalid_target', async (t) => {
  const api = apiIdentifier();
  await createResource(server.deps, testActor, { identifier: api, scopes: ['billing:read'] });
  const client = await machineClient();
  const response = await postWithBasic(tokenEndpoint, client, { grant_type: 'client_credentials', resource: api, scope: 'billing:read' });
  t.is(response.status, 400);
  const body = (await response.json()) as { error: string; access_token?: string };
  t.is(body.error, 'invalid_target');
  t.is(body.access_token, undefined);
});

test('a wrong client secret is refused with 401 invalid_client', async (t) => {
  const client = await machineClient();
  const response = await postWithBasic(tokenEndpoint, { clientId: client.clientId, clientSecret: `${client.clientSecret}x` }, {
    grant_type: 'client_credentials',
  });
  t.is(response.status, 401);
  t.is(((await response.json()) as { error: string }).error, 'invalid_client');
});

test('a public client cannot be registered for client_credentials', async (t) => {
  const error = await t.throwsAsync(
    createClient(server.deps, testActor, { name: 'SPA', public: true, grantTypes: ['client_credentials'] }),
    { instanceOf: LatchkeyError },
  );
  t.is(error?.code, 'input.invalid');
});

test("an opaque-format API's token is introspected by that API's client and by nobody else", async (t) => {
  const api = apiIdentifier();
  const introspector = await machineClient({ name: 'Orders API' });
  const stranger = await machineClient({ name: 'Unrelated service' });
  await createResource(server.deps, testActor, {
    identifier: api,
    scopes: ['stock:read'],
    accessTokenFormat: 'opaque',
    introspectionClientId: introspector.clientId,
  });
  const caller = await machineClient({ resources: [api] });

  const tokens = await oidc.clientCredentialsGrant(caller.config, { resource: api, scope: 'stock:read' });
  t.false(isJwt(tokens.access_token));
  t.is(tokens.scope, 'stock:read');

  const seenByApi = await introspect(introspector, tokens.access_token);
  t.is(seenByApi.active, true);
  t.is(seenByApi.client_id, caller.clientId);
  t.is(seenByApi.aud, api);
  t.is(seenByApi.scope, 'stock:read');

  t.deepEqual(await introspect(stranger, tokens.access_token), { active: false });
});
