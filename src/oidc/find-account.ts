import type { Account } from 'oidc-provider';
import type { Deps } from '../deps.js';
import { findActiveAccount } from '../domain/accounts.js';
import { orUnavailable } from './unavailable.js';

/** A disabled or deleted user has no account: their sessions stop working and they must sign in again. */
export async function findAccount(deps: Deps, sub: string): Promise<Account | undefined> {
  const user = await orUnavailable(() => findActiveAccount(deps, sub));
  if (!user) return undefined;
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
