import type { Deps } from '../deps.js';
import { findActiveAccount } from '../domain/accounts.js';
import type { Actor } from '../domain/audit.js';
import { ACCOUNT_CLIENT_ID } from '../domain/first-party-clients.js';
import type { Provider } from '../oidc/provider.js';
import type { UserRow } from '../store/users.js';

/** Who is using the account page, and from which sign-in. */
export interface AccountPrincipal {
  user: UserRow;
  actor: Actor & { type: 'user'; id: string; ip: string };
  /** The provider session this browser signed in with: "this device" on the sessions page. */
  sessionUid: string | undefined;
}

/**
 * Checks the account page's access token on every request: it must still exist (it ends with
 * the provider session it was issued in, so signing that session out ends it too), be the
 * account page's own, and belong to an active account. Undefined means: sign in again.
 */
export async function authorizeAccount(deps: Deps, provider: Provider, token: string, ip: string): Promise<AccountPrincipal | undefined> {
  const found = await provider.AccessToken.find(token);
  if (!found || found.isExpired || found.clientId !== ACCOUNT_CLIENT_ID || typeof found.accountId !== 'string') return undefined;
  const user = await findActiveAccount(deps, found.accountId);
  if (!user) return undefined;
  return { user, actor: { type: 'user', id: user.id, ip }, sessionUid: found.sessionUid };
}
