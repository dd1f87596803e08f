import type { Account } from 'oidc-provider';
import { DATABASE_BATCHING } from '../db/batching.js';
import type { Deps } from '../deps.js';
import { findActiveAccounts } from '../domain/accounts.js';
import type { UserRow } from '../store/users.js';
import { createBatcher } from '../util/batcher.js';
import { orUnavailable } from './unavailable.js';

/** The provider's view of a user: the claims CLAIMS (configuration.ts) releases by scope. */
export function accountOf(user: Pick<UserRow, 'id' | 'name' | 'email' | 'emailVerified' | 'updatedAt'>): Account {
  return {
    accountId: user.id,
    async claims() {
      return {
        sub: user.id,
        ...(user.name ? { name: user.name } : {}),
        email: user.email,
        email_verified: user.emailVerified,
        updated_at: Math.floor(user.updatedAt.getTime() / 1000),
      };
    },
  };
}

/**
 * The provider's account lookup: on every refresh, userinfo request and ID token, so concurrent
 * lookups share a round trip. A disabled or deleted user has no account: their sessions stop
 * working and they must sign in again.
 */
export function accountFinder(deps: Deps): (sub: string) => Promise<Account | undefined> {
  const load = createBatcher<string, UserRow | undefined>(async (ids) => {
    const users = await findActiveAccounts(deps, [...new Set(ids)]);
    return ids.map((id) => users.get(id));
  }, DATABASE_BATCHING);
  return async (sub) => {
    const user = await orUnavailable(() => load(sub));
    return user ? accountOf(user) : undefined;
  };
}
