import * as oidc from 'openid-client';
import { adminResourceIdentifier, ADMIN_SCOPE } from '../../src/domain/admin-access.js';
import { updateUser } from '../../src/domain/users.js';
import { testActor } from './actor.js';
import { Browser } from './browser.js';
import { createTestUser, registerRp, signIn, type RelyingParty, type TestUser } from './rp.js';
import type { TestServer } from './server.js';

export function adminApi(server: TestServer): string {
  return adminResourceIdentifier(server.config);
}

/** A client given admin access, and a client-credentials token for the admin API. */
export async function adminClientToken(server: TestServer): Promise<{ rp: RelyingParty; token: string }> {
  const rp = await registerRp(server, { name: 'Admin script', grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [], adminAccess: true });
  const grant = await oidc.clientCredentialsGrant(rp.config, { scope: ADMIN_SCOPE, resource: adminApi(server) });
  return { rp, token: grant.access_token };
}

/**
 * A user signed in through an admin-access client (as the console is), holding an access
 * token for the admin API; `admin: false` makes a plain user.
 */
export async function adminUserToken(
  server: TestServer,
  options: { admin?: boolean; rp?: RelyingParty } = {},
): Promise<{ rp: RelyingParty; user: TestUser; token: string }> {
  const user = await createTestUser(server);
  if (options.admin ?? true) await updateUser(server.deps, testActor, user.id, { isAdmin: true });
  const rp = options.rp ?? (await registerRp(server, { name: 'Admin app', adminAccess: true, firstParty: true }));
  const { callback, request } = await signIn(new Browser(), rp, user, { scope: `openid ${ADMIN_SCOPE}`, resource: adminApi(server) });
  // The code is redeemed for the admin API by naming it again (RFC 8707 §2.2).
  const tokens = await oidc.authorizationCodeGrant(
    rp.config,
    callback,
    { pkceCodeVerifier: request.codeVerifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true },
    { resource: adminApi(server) },
  );
  return { rp, user, token: tokens.access_token };
}

export async function adminFetch(server: TestServer, token: string | undefined, path: string, init: { method?: string; body?: unknown } = {}) {
  const response = await fetch(`${server.issuer}/admin/api/v1${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}
