import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { TOKEN_EXCHANGE_GRANT } from '../../src/domain/clients.js';
import { listUserGrants, revokeGrant } from '../../src/domain/grants.js';
import { createResource, type CreateResourceInput } from '../../src/domain/resources.js';
import { ACCESS_TOKEN_TYPE, createTokenExchangePolicy, deleteTokenExchangePolicy } from '../../src/domain/token-exchange.js';
import { Browser } from '../helpers/browser.js';
import { createTestUser, registerRp, signIn, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { testActor } from '../helpers/actor.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

async function api(input: Partial<CreateResourceInput> = {}): Promise<string> {
  const identifier = `https://api-${randomBytes(4).toString('hex')}.example/`;
  await createResource(server.deps, testActor, { identifier, scopes: ['read', 'write', 'delete'], ...input });
  return identifier;
}

/** A service: a confidential client that may only exchange tokens. */
function service(name = 'Orders service'): Promise<RelyingParty> {
  return registerRp(server, { name, grantTypes: [TOKEN_EXCHANGE_GRANT], redirectUris: [], postLogoutRedirectUris: [] });
}

/** A user signs in at a front end that asks for `scope` of `resource`; the access token is for that API. */
async function userToken(resource: string, scope = 'read write') {
  const frontEnd = await registerRp(server, { resources: [resource], scope: `openid ${scope}` });
  const user = await createTestUser(server);
  const { callback, request } = await signIn(new Browser(), frontEnd, user, { scope: `openid ${scope}`, resource });
  const tokens = await oidc.authorizationCodeGrant(
    frontEnd.config,
    callback,
    { pkceCodeVerifier: request.codeVerifier, expectedState: request.state, expectedNonce: request.nonce },
    { resource },
  );
  return { user, frontEnd, accessToken: tokens.access_token };
}

function exchange(client: RelyingParty, subjectToken: string, params: Record<string, string> = {}) {
  return oidc.genericGrantRequest(client.config, TOKEN_EXCHANGE_GRANT, {
    subject_token: subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    ...params,
  });
}

async function refused(t: import('ava').ExecutionContext, work: Promise<unknown>, error: string, description?: RegExp): Promise<void> {
  const thrown = await t.throwsAsync(work, { instanceOf: oidc.ResponseBodyError });
  t.is(thrown?.error, error, thrown?.error_description);
  if (description) t.regex(thrown?.error_description ?? '', description);
}

test('discovery advertises the token exchange grant', async (t) => {
  const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as { grant_types_supported: string[] };
  t.true(metadata.grant_types_supported.includes(TOKEN_EXCHANGE_GRANT));
});

test('an exchange a policy allows gives an opaque token for the target API, with the user, the actor and only the allowed scope', async (t) => {
  const orders = await api({ accessTokenFormat: 'opaque' });
  const inventoryIntrospector = await registerRp(server, { name: 'Inventory API', grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [] });
  const inventory = await api({ accessTokenFormat: 'opaque', introspectionClientId: inventoryIntrospector.clientId });
  const ordersService = await service();
  await createTokenExchangePolicy(server.deps, testActor, { clientId: ordersService.clientId, subjectAudience: orders, targetAudience: inventory, scopes: ['read', 'delete'] });
  const { user, accessToken } = await userToken(orders, 'read write');

  // write is not in the policy and delete is not in the user's token: only read is issued.
  const tokens = await exchange(ordersService, accessToken, { audience: inventory, scope: 'read write delete' });
  t.is(tokens.issued_token_type, ACCESS_TOKEN_TYPE);
  t.is(tokens.token_type, 'bearer');
  t.is(tokens.scope, 'read');
  t.true(tokens.expires_in! > 0 && tokens.expires_in! <= server.config.tokens.accessTtl);
  t.not(tokens.access_token, accessToken);

  // The inventory API introspects it as any token of its own.
  const details = await oidc.tokenIntrospection(inventoryIntrospector.config, tokens.access_token);
  t.true(details.active);
  t.is(details.sub, user.id);
  t.is(details.aud, inventory);
  t.is(details.scope, 'read');
  t.is(details.client_id, ordersService.clientId);
  t.deepEqual(details.act, { sub: ordersService.clientId });

  // Without a scope parameter it gets everything the policy and the user's token allow; resource works as well as audience.
  const all = await exchange(ordersService, accessToken, { resource: inventory });
  t.is(all.scope, 'read');
});

test("scopes of another name are the policy's to give; a scope the user's API also has must be in their token", async (t) => {
  const orders = await api({ scopes: ['orders:read', 'read'], accessTokenFormat: 'opaque' });
  const inventory = await api({ scopes: ['inventory:read', 'read', 'write'], accessTokenFormat: 'opaque' });
  const ordersService = await service();
  await createTokenExchangePolicy(server.deps, testActor, { clientId: ordersService.clientId, subjectAudience: orders, targetAudience: inventory, scopes: ['inventory:read', 'read', 'write'] });
  const { accessToken } = await userToken(orders, 'orders:read');
  // write: only the inventory API has it, the policy allows it. read: the orders API has it too, and the user did not grant it.
  const tokens = await exchange(ordersService, accessToken, { audience: inventory });
  t.is(tokens.scope, 'inventory:read write');
});

test('a JWT target gets an at+jwt its API verifies with the JWKS, and a second exchange nests the first actor', async (t) => {
  const orders = await api();
  const inventory = await api();
  const warehouse = await api();
  const ordersService = await service('Orders service');
  const inventoryService = await service('Inventory service');
  await createTokenExchangePolicy(server.deps, testActor, { clientId: ordersService.clientId, subjectAudience: orders, targetAudience: inventory, scopes: 'read write' });
  await createTokenExchangePolicy(server.deps, testActor, { clientId: inventoryService.clientId, subjectAudience: inventory, targetAudience: warehouse, scopes: ['read'] });
  const { user, accessToken, frontEnd } = await userToken(orders, 'read write');
  t.is(decodeProtectedHeader(accessToken).typ, 'at+jwt');

  const first = await exchange(ordersService, accessToken, { audience: inventory, scope: 'write' });
  t.is(first.scope, 'write');
  t.is(decodeProtectedHeader(first.access_token).typ, 'at+jwt');
  const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
  const { payload } = await jwtVerify(first.access_token, jwks, { issuer: server.issuer, audience: inventory, typ: 'at+jwt' });
  t.is(payload.sub, user.id);
  t.is(payload.scope, 'write');
  t.is(payload.client_id, ordersService.clientId);
  t.deepEqual(payload.act, { sub: ordersService.clientId });
  t.not(frontEnd.clientId, ordersService.clientId);

  // The inventory service passes the user on: the policy allows read, but the first token only carries write.
  await refused(t, exchange(inventoryService, first.access_token, { audience: warehouse }), 'invalid_scope');
  const again = await exchange(ordersService, accessToken, { audience: inventory });
  t.is(again.scope, 'read write');
  const second = await exchange(inventoryService, again.access_token, { audience: warehouse });
  t.is(second.scope, 'read');
  const nested = (await jwtVerify(second.access_token, jwks, { issuer: server.issuer, audience: warehouse })).payload;
  t.is(nested.sub, user.id);
  t.deepEqual(nested.act, { sub: inventoryService.clientId, act: { sub: ordersService.clientId } });
});

test('nothing is exchangeable without a policy: no policy, another client, another subject API or another target are refused', async (t) => {
  const orders = await api({ accessTokenFormat: 'opaque' });
  const billing = await api();
  const inventory = await api();
  const ordersService = await service();
  const stranger = await service('Someone else');
  const { accessToken } = await userToken(orders);

  await refused(t, exchange(ordersService, accessToken, { audience: inventory }), 'invalid_target', /no token exchange policy/);

  const policy = await createTokenExchangePolicy(server.deps, testActor, { clientId: ordersService.clientId, subjectAudience: orders, targetAudience: inventory, scopes: ['read'] });
  t.is((await exchange(ordersService, accessToken, { audience: inventory })).scope, 'read');
  // The policy is for the orders service only.
  await refused(t, exchange(stranger, accessToken, { audience: inventory }), 'invalid_target', /no token exchange policy/);
  // Not for another target.
  await refused(t, exchange(ordersService, accessToken, { audience: billing }), 'invalid_target');
  // Not for a token meant for another API.
  const { accessToken: billingToken } = await userToken(billing);
  await refused(t, exchange(ordersService, billingToken, { audience: inventory }), 'invalid_target');

  // Deleting the policy stops exchanges at once.
  await deleteTokenExchangePolicy(server.deps, testActor, policy.id);
  await refused(t, exchange(ordersService, accessToken, { audience: inventory }), 'invalid_target');
});

test('a revoked, expired or unknown subject token is invalid_grant', async (t) => {
  const orders = await api({ accessTokenFormat: 'opaque' });
  const shortLived = await api({ accessTokenFormat: 'opaque', accessTokenTtl: 1 });
  const inventory = await api();
  const ordersService = await service();
  for (const subjectAudience of [orders, shortLived]) {
    await createTokenExchangePolicy(server.deps, testActor, { clientId: ordersService.clientId, subjectAudience, targetAudience: inventory, scopes: ['read'] });
  }

  const { accessToken, frontEnd } = await userToken(orders);
  await oidc.tokenRevocation(frontEnd.config, accessToken);
  await refused(t, exchange(ordersService, accessToken, { audience: inventory }), 'invalid_grant', /not active/);

  const { accessToken: expiring } = await userToken(shortLived);
  await sleep(2100);
  await refused(t, exchange(ordersService, expiring, { audience: inventory }), 'invalid_grant');

  // A JWT is not stored: revoking its grant (the user withdrew consent) is what ends it here.
  const jwtOrders = await api();
  await createTokenExchangePolicy(server.deps, testActor, { clientId: ordersService.clientId, subjectAudience: jwtOrders, targetAudience: inventory, scopes: ['read'] });
  const { accessToken: jwt, user } = await userToken(jwtOrders);
  t.truthy((await exchange(ordersService, jwt, { audience: inventory })).access_token, 'exchangeable while the grant stands');
  for (const grant of await listUserGrants(server.deps, user.id)) await revokeGrant(server.deps, testActor, grant.grantId);
  await refused(t, exchange(ordersService, jwt, { audience: inventory }), 'invalid_grant', /grant behind subject_token was revoked/);

  await refused(t, exchange(ordersService, 'not-a-token-we-issued', { audience: inventory }), 'invalid_grant');
  // A JWT that does not verify against Latchkey's keys.
  const forged = `${Buffer.from('{"alg":"ES256","typ":"at+jwt"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.c2ln`;
  await refused(t, exchange(ordersService, forged, { audience: inventory }), 'invalid_grant', /signature/);
});

test("a client's own token, a public client and a client without the grant type cannot exchange", async (t) => {
  const orders = await api({ accessTokenFormat: 'opaque' });
  const inventory = await api();
  const machine = await registerRp(server, { grantTypes: ['client_credentials', TOKEN_EXCHANGE_GRANT], resources: [orders], scope: 'read', redirectUris: [], postLogoutRedirectUris: [] });
  await createTokenExchangePolicy(server.deps, testActor, { clientId: machine.clientId, subjectAudience: orders, targetAudience: inventory, scopes: ['read'] });
  const own = await oidc.clientCredentialsGrant(machine.config, { resource: orders, scope: 'read' });
  await refused(t, exchange(machine, own.access_token, { audience: inventory }), 'invalid_grant', /user's access token/);

  // A client without the grant type in its grant_types: no policy can be made for it, and the provider refuses it.
  const plain = await registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [] });
  await t.throwsAsync(createTokenExchangePolicy(server.deps, testActor, { clientId: plain.clientId, subjectAudience: orders, targetAudience: inventory, scopes: ['read'] }), {
    message: /must be a confidential client with the urn:ietf:params:oauth:grant-type:token-exchange grant/,
  });
  const { accessToken } = await userToken(orders);
  await refused(t, exchange(plain, accessToken, { audience: inventory }), 'invalid_request', /grant type is not allowed/);

  // A public client cannot be given the grant type at all.
  await t.throwsAsync(registerRp(server, { public: true, grantTypes: ['authorization_code', TOKEN_EXCHANGE_GRANT] }), { message: /confidential client/ });
});

test('missing or unsupported parameters are invalid_request', async (t) => {
  const orders = await api({ accessTokenFormat: 'opaque' });
  const inventory = await api();
  const ordersService = await service();
  await createTokenExchangePolicy(server.deps, testActor, { clientId: ordersService.clientId, subjectAudience: orders, targetAudience: inventory, scopes: ['read'] });
  const { accessToken } = await userToken(orders);

  const request = (params: Record<string, string>) => oidc.genericGrantRequest(ordersService.config, TOKEN_EXCHANGE_GRANT, params);
  await refused(t, request({ subject_token_type: ACCESS_TOKEN_TYPE, audience: inventory }), 'invalid_request', /subject_token/);
  await refused(t, request({ subject_token: accessToken, audience: inventory }), 'invalid_request', /subject_token_type/);
  await refused(t, request({ subject_token: accessToken, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', audience: inventory }), 'invalid_request', /unsupported subject_token_type/);
  await refused(t, exchange(ordersService, accessToken, {}), 'invalid_request', /audience or resource/);
  await refused(t, exchange(ordersService, accessToken, { audience: inventory, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }), 'invalid_request', /requested_token_type/);
  await refused(t, exchange(ordersService, accessToken, { audience: inventory, actor_token: accessToken, actor_token_type: ACCESS_TOKEN_TYPE }), 'invalid_request', /actor_token/);
  await refused(t, exchange(ordersService, accessToken, { audience: inventory, resource: orders }), 'invalid_target', /one target/);
  // The scope asked for may only narrow what the policy allows.
  await refused(t, exchange(ordersService, accessToken, { audience: inventory, scope: 'write' }), 'invalid_scope');
});

test('with a DPoP proof the exchanged token is bound to the key; a dpop_bound_access_tokens client must send one; a DPoP-bound subject token is refused', async (t) => {
  const orders = await api({ accessTokenFormat: 'opaque' });
  const inventory = await api({ accessTokenFormat: 'opaque' });
  const bound = await registerRp(server, { grantTypes: [TOKEN_EXCHANGE_GRANT], redirectUris: [], postLogoutRedirectUris: [], dpopBoundAccessTokens: true });
  await createTokenExchangePolicy(server.deps, testActor, { clientId: bound.clientId, subjectAudience: orders, targetAudience: inventory, scopes: ['read'] });
  const { accessToken } = await userToken(orders);

  await refused(t, exchange(bound, accessToken, { audience: inventory }), 'invalid_grant', /DPoP/);
  const keys = await oidc.randomDPoPKeyPair('ES256');
  const DPoP = oidc.getDPoPHandle(bound.config, keys);
  const tokens = await oidc.genericGrantRequest(
    bound.config,
    TOKEN_EXCHANGE_GRANT,
    { subject_token: accessToken, subject_token_type: ACCESS_TOKEN_TYPE, audience: inventory },
    { DPoP },
  );
  t.is(tokens.token_type, 'dpop');
  const details = await oidc.tokenIntrospection(bound.config, tokens.access_token);
  t.truthy((details.cnf as { jkt?: string } | undefined)?.jkt);

  // That bound token cannot itself be exchanged onwards by someone who does not hold the key.
  const onwards = await api();
  const next = await service('Next service');
  await createTokenExchangePolicy(server.deps, testActor, { clientId: next.clientId, subjectAudience: inventory, targetAudience: onwards, scopes: ['read'] });
  await refused(t, exchange(next, tokens.access_token, { audience: onwards }), 'invalid_grant', /sender-constrained/);
});
