import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { findUserByEmail, findUserById, type UserRow } from '../store/users.js';
import { MAX_PASSWORD_LENGTH } from './password-policy.js';

/** The account behind a subject, or undefined when it is gone or disabled. */
export async function findActiveAccount(deps: Deps, id: string): Promise<UserRow | undefined> {
  const user = await findUserById(deps.db.knex, id);
  return user && !user.disabled ? user : undefined;
}

/**
 * Checks an email and password. Every failing path (unknown email, no password set, wrong
 * password, disabled account) runs exactly one argon2 verify and ends in the same error, so
 * neither the answer nor its cost tells whether the account exists. A self-service account
 * signs in once its address is confirmed.
 */
export async function authenticate(deps: Deps, credentials: { email: string; password: string }): Promise<UserRow> {
  const address = credentials.email.trim();
  const user = address.length > 0 && address.length <= 254 ? await findUserByEmail(deps.db.knex, address) : undefined;
  const secret = credentials.password.slice(0, MAX_PASSWORD_LENGTH + 1);
  if (!user?.passwordHash) {
    await deps.passwords.verifyDummy(secret);
    throw new LatchkeyError('auth.invalid_credentials');
  }
  const valid = await deps.passwords.verify(user.passwordHash, secret);
  if (!valid || user.disabled) throw new LatchkeyError('auth.invalid_credentials');
  // Only after the right password: telling a stranger the address is unconfirmed would reveal the account.
  if (user.createdVia === 'signup' && !user.emailVerified) throw new LatchkeyError('auth.email_unverified');
  return user;
}
