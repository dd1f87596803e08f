import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { findUserByEmail, findUserById, findUsersByIds, replacePasswordHash, type UserRow } from '../store/users.js';
import { MAX_PASSWORD_LENGTH } from './password-policy.js';
import { hashScheme } from './passwords.js';

/** The account behind a subject, or undefined when it is gone or disabled. */
const active = (user: UserRow | undefined) => (user && !user.disabled ? user : undefined);

export async function findActiveAccount(deps: Deps, id: string): Promise<UserRow | undefined> {
  return active(await findUserById(deps.db.knex, id));
}

/** The active accounts among `ids`, by id: one statement however many are asked for. */
export async function findActiveAccounts(deps: Deps, ids: readonly string[]): Promise<Map<string, UserRow>> {
  const users = await findUsersByIds(deps.db.knex, ids);
  return new Map(users.flatMap((user) => (active(user) ? [[user.id, user] as const] : [])));
}

/**
 * Checks an email and password. Every failing path (unknown email, no password set, wrong
 * password, disabled account) runs at least one argon2 verify and ends in the same error, so
 * neither the answer nor its cost tells whether the account exists. A self-service account
 * signs in once its address is confirmed. A hash that is not argon2id with today's parameters
 * (an imported one, or ours before the settings changed) is replaced by one that is.
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
  if (!valid || user.disabled) {
    // An imported bcrypt or PBKDF2 hash can fail in a millisecond, far faster than the argon2
    // an unknown address costs: pay that cost too, so a fast failure does not reveal the account.
    if (hashScheme(user.passwordHash) !== 'argon2') await deps.passwords.verifyDummy(secret);
    throw new LatchkeyError('auth.invalid_credentials');
  }
  // Only after the right password: telling a stranger the address is unconfirmed would reveal the account.
  if (user.createdVia === 'signup' && !user.emailVerified) throw new LatchkeyError('auth.email_unverified');
  if (deps.passwords.needsRehash(user.passwordHash)) await rehash(deps, user.id, user.passwordHash, secret);
  return user;
}

/** The password is known only now, so this is the one moment to upgrade its hash. */
async function rehash(deps: Deps, id: string, current: string, password: string): Promise<void> {
  try {
    await replacePasswordHash(deps.db.knex, id, current, await deps.passwords.hash(password));
  } catch (error) {
    // The old hash still verifies, so the upgrade can wait for the next sign-in.
    deps.log.warn({ err: error, userId: id }, 'could not re-hash a password after sign-in');
  }
}
