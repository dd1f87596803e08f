import { z } from 'zod';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { findUserByEmail, findUserById, insertUser, listUsers as selectUsers, type UserRow } from '../store/users.js';
import { clampLimit, displayName, parseInput } from './validation.js';

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 256;

const email = z
  .string({ message: 'is required' })
  .trim()
  .max(254, { message: 'is too long' })
  .pipe(z.email({ message: 'is not an email address' }));

const password = z
  .string({ message: 'is required' })
  .min(MIN_PASSWORD_LENGTH, { message: `must be at least ${MIN_PASSWORD_LENGTH} characters` })
  .max(MAX_PASSWORD_LENGTH, { message: `must be at most ${MAX_PASSWORD_LENGTH} characters` });

const createUserInput = z.object({
  email,
  name: displayName(200).optional(),
  password,
  emailVerified: z.boolean().default(false),
});

export type CreateUserInput = z.input<typeof createUserInput>;

export async function createUser(deps: Deps, input: CreateUserInput): Promise<UserRow> {
  const parsed = parseInput(createUserInput, input);
  const passwordHash = await deps.passwords.hash(parsed.password);
  return insertUser(deps.db.knex, {
    email: parsed.email,
    name: parsed.name ?? null,
    passwordHash,
    emailVerified: parsed.emailVerified,
  });
}

export async function listUsers(deps: Deps, options: { limit?: number; email?: string } = {}): Promise<UserRow[]> {
  return selectUsers(deps.db.knex, {
    limit: clampLimit(options.limit),
    ...(options.email ? { email: options.email } : {}),
  });
}

/** The account behind a subject, or undefined when it is gone or disabled. */
export async function findActiveAccount(deps: Deps, id: string): Promise<UserRow | undefined> {
  const user = await findUserById(deps.db.knex, id);
  return user && !user.disabled ? user : undefined;
}

/**
 * Checks an email and password. Every failing path (unknown email, no password set, wrong
 * password, disabled account) runs exactly one argon2 verify and ends in the same error, so
 * neither the answer nor its cost tells whether the account exists.
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
  return user;
}
