import type { Deps } from '../deps.js';
import { findActiveAccount } from '../domain/accounts.js';
import { ADMIN_SCOPE, adminResourceIdentifier } from '../domain/admin-access.js';
import { recordAudit, type Actor } from '../domain/audit.js';
import { LatchkeyError } from '../errors.js';
import type { Provider } from '../oidc/provider.js';

/** Who is acting on the admin API or console: an admin user, or a client given admin access. */
export interface AdminPrincipal {
  actor: Actor & { type: 'user' | 'client'; id: string };
  /** The client the token was issued to (the console, a script's client). */
  clientId: string;
}

/**
 * Checks an admin access token on every request: it must exist (not expired, not revoked),
 * be meant for the admin API, carry the admin scope, and its user must still be an active
 * admin, or its client still have admin access. So revocation, demotion and disabling take
 * effect on the next request.
 */
export async function authorizeAdmin(deps: Deps, provider: Provider, token: string | undefined, ip: string | null): Promise<AdminPrincipal> {
  if (!token) throw new LatchkeyError('admin.unauthenticated', 'an admin access token is required');
  const found = (await provider.AccessToken.find(token)) ?? (await provider.ClientCredentials.find(token));
  if (!found || found.isExpired) throw new LatchkeyError('admin.unauthenticated', 'the access token is not valid, has expired or was revoked');
  const audiences = Array.isArray(found.aud) ? found.aud : found.aud ? [found.aud] : [];
  if (!audiences.includes(adminResourceIdentifier(deps.config))) {
    throw new LatchkeyError('admin.unauthenticated', 'the access token is not meant for the admin API');
  }
  const clientId = found.clientId;
  if (!clientId) throw new LatchkeyError('admin.unauthenticated', 'the access token names no client');
  const accountId = 'accountId' in found && typeof found.accountId === 'string' ? found.accountId : undefined;
  const actor = accountId ? { type: 'user' as const, id: accountId, ip } : { type: 'client' as const, id: clientId, ip };

  const refuse = async (reason: string): Promise<never> => {
    await recordAudit(deps.db.knex, actor, { type: 'admin.access_denied', outcome: 'failure', details: { reason, client_id: clientId } });
    throw new LatchkeyError('admin.forbidden', reason);
  };
  if (!String(found.scope ?? '').split(' ').includes(ADMIN_SCOPE)) return refuse(`the access token does not carry the ${ADMIN_SCOPE} scope`);
  const client = await deps.catalog.client(clientId);
  if (!client) throw new LatchkeyError('admin.unauthenticated', 'the client this token was issued to no longer exists');
  if (!client.adminAccess || client.registeredDynamically) return refuse('the client this token was issued to has no admin access');
  if (accountId) {
    const user = await findActiveAccount(deps, accountId);
    if (!user) throw new LatchkeyError('admin.unauthenticated', 'the user this token was issued to is disabled or deleted');
    if (!user.isAdmin) return refuse('the user this token was issued to is not an administrator');
  }
  return { actor, clientId };
}
