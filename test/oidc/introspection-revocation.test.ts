import { randomBytes } from 'node:crypto';
import test from 'ava';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { createResource } from '../../src/domain/resources.js';
import { Browser } from '../helpers/browser.js';
import { createTestUser, postWithBasic, registerRp, signIn, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { testActor } from '../helpers/actor.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

/** A user signs in at `rp` (with offline_access, so there is a refresh token) and the code is redeemed. */
async function userTokens(rp: RelyingParty, params: Record<string, string> = {}, tokenParams: Record<string, string> = {}) {
  const user = await createTestUser(server);
  const { callback, request } = await signIn(new Browser(), rp, user, {
    scope: 'openid profile email offline_access',
    prompt: 'consent',
    ...params,
  });
  const tokens = await oidc.authorizationCodeGrant(
    rp.config,
    callback,
    { pkceCodeVerifier: request.codeVerifier, expectedState: request.state, expectedNonce: request.nonce },
    tokenParams,
  );
  if (!tokens.refresh_token) throw new Error('no refresh token was issued');
  return { user, tokens, accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
}

/** Another registered confidential client, unrelated to the tokens under test. */
function otherClient(): Promise<RelyingParty> {
  return registerRp(server, { name: 'Someone else', grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [] });
}

async function userinfoStatus(accessToken: string): Promise<number> {
  const response = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  await response.body?.cancel();
  return response.status;
}

test('the client a token was issued to introspects it as active with its subject, client and scope', async (t) => {
  const rp = await registerRp(server);
  const { user, accessToken, refreshToken } = await userTokens(rp);
  const details = await oidc.tokenIntrospection(rp.config, accessToken);
  t.true(details.active);
  t.is(details.sub, user.id);
  t.is(details.client_id, rp.clientId);
  t.is(details.iss, server.issuer);
  t.deepEqual(details.scope?.split(' ').sort(), ['email', 'offline_access', 'openid', 'profile']);
  t.is(details.token_type, 'Bearer');

  const refresh = await oidc.tokenIntrospection(rp.config, refreshToken);
  t.true(refresh.active);
  t.is(refresh.sub, user.id);
  t.is(refresh.client_id, rp.clientId);
});

test('another confidential client learns nothing from introspecting a token that is not its own', async (t) => {
  const rp = await registerRp(server);
  const { accessToken, refreshToken } = await userTokens(rp);
  const other = await otherClient();
  // Not oidc-provider v9's default, which lets any confidential client introspect any token.
  t.deepEqual(await oidc.tokenIntrospection(other.config, accessToken), { active: false });
  t.deepEqual(await oidc.tokenIntrospection(other.config, refreshToken), { active: false });
});

test('another client cannot revoke a token that is not its own', async (t) => {
  const rp = await registerRp(server);
  const { accessToken, refreshToken } = await userTokens(rp);
  const other = await otherClient();
  await oidc.tokenRevocation(other.config, accessToken);
  await oidc.tokenRevocation(other.config, refreshToken);
  t.true((await oidc.tokenIntrospection(rp.config, accessToken)).active);
  t.true((await oidc.tokenIntrospection(rp.config, refreshToken)).active);
  t.is(await userinfoStatus(accessToken), 200);
});

test('an access token revoked by its client is inactive and refused at userinfo', async (t) => {
  const rp = await registerRp(server);
  const { accessToken } = await userTokens(rp);
  t.is(await userinfoStatus(accessToken), 200);
  await oidc.tokenRevocation(rp.config, accessToken, { token_type_hint: 'access_token' });
  t.false((await oidc.tokenIntrospection(rp.config, accessToken)).active);
  t.is(await userinfoStatus(accessToken), 401);
});

test('revoking a refresh token revokes the whole grant', async (t) => {
  const rp = await registerRp(server);
  const { accessToken, refreshToken } = await userTokens(rp);
  await oidc.tokenRevocation(rp.config, refreshToken, { token_type_hint: 'refresh_token' });
  t.false((await oidc.tokenIntrospection(rp.config, refreshToken)).active);
  t.false((await oidc.tokenIntrospection(rp.config, accessToken)).active);
  t.is(await userinfoStatus(accessToken), 401);
  const error = await t.throwsAsync(oidc.refreshTokenGrant(rp.config, refreshToken), { instanceOf: oidc.ResponseBodyError });
  t.is(error?.error, 'invalid_grant');
});

test('a JWT access token is not stored: it cannot be introspected or revoked and lives until its exp', async (t) => {
  const api = `https://api-${randomBytes(4).toString('hex')}.example/`;
  await createResource(server.deps, testActor, { identifier: api, scopes: ['orders:read'] });
  const rp = await registerRp(server, { resources: [api], scope: 'openid profile email offline_access orders:read' });
  const { accessToken, refreshToken } = await userTokens(
    rp,
    { scope: 'openid offline_access orders:read', resource: api },
    { resource: api },
  );
  t.is(decodeProtectedHeader(accessToken).typ, 'at+jwt');

  for (const endpoint of ['token/introspection', 'token/revocation']) {
    const response = await postWithBasic(`${server.issuer}/${endpoint}`, rp, { token: accessToken });
    t.is(response.status, 400, endpoint);
    t.is(((await response.json()) as { error: string }).error, 'unsupported_token_type', endpoint);
  }

  // Revoking the grant removes everything stored; the JWT was never stored, so an API that
  // verifies it locally keeps accepting it until exp. That is why its lifetime stays short.
  await oidc.tokenRevocation(rp.config, refreshToken, { token_type_hint: 'refresh_token' });
  t.false((await oidc.tokenIntrospection(rp.config, refreshToken)).active);
  const { payload } = await jwtVerify(accessToken, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), {
    issuer: server.issuer,
    audience: api,
    typ: 'at+jwt',
  });
  t.is(payload.exp! - payload.iat!, server.config.tokens.accessTtl);
});
