import type { Knex } from 'knex';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { retireEmailTokens } from '../store/email-tokens.js';
import { deletePayloadsByAccountId } from '../store/oidc-payloads.js';
import { now } from '../util/clock.js';
import {
  deleteUser as deleteUserRow,
  findUserByEmail,
  findUserById,
  insertUser,
  listUsers as selectUsers,
  updateUser as updateUserRow,
  type UserChanges,
  type UserRow,
} from '../store/users.js';
import { recordAudit, type Actor } from './audit.js';
import { emitEvent } from './events/emit.js';
import { userData } from './events/catalog.js';
import { passwordProblem } from './password-policy.js';
import { endUserSessions } from './sessions.js';
import { isCreatedKey, keysetPage, type Page, type PageRequest } from './pagination.js';
import { displayName, parseInput } from './validation.js';

const email = z
  .string({ message: 'is required' })
  .trim()
  .max(254, { message: 'is too long' })
  .pipe(z.email({ message: 'is not an email address' }));

export const emailAddress = email;

/** A new password, judged with the account's address (a password made of it is guessable). */
function withPassword<S extends z.ZodObject<{ password: z.ZodType<string> }>>(schema: S, minLength: number, emailOf: (value: z.output<S>) => string | undefined) {
  return schema.superRefine((value, ctx) => {
    const problem = passwordProblem(value.password as string, { minLength, email: emailOf(value) });
    if (problem) ctx.addIssue({ code: 'custom', path: ['password'], message: problem });
  });
}

const createUserInput = z.object({
  email,
  name: displayName(200).optional(),
  password: z.string({ message: 'is required' }),
  emailVerified: z.boolean().default(false),
  isAdmin: z.boolean().default(false),
});

const updateUserInput = z
  .object({
    email: email.optional(),
    // null clears the name.
    name: displayName(200).nullable().optional(),
    emailVerified: z.boolean().optional(),
    isAdmin: z.boolean().optional(),
  })
  .strict();

export type CreateUserInput = z.input<typeof createUserInput>;
export type CreatedVia = 'admin' | 'signup' | 'import' | 'upstream';
export type UpdateUserInput = z.input<typeof updateUserInput>;

// Besides sessions and refresh tokens, what lets a user act without signing in again: what disabling ends.
const GRANT_MODELS = ['Grant', 'AccessToken', 'AuthorizationCode', 'Interaction', 'BackchannelAuthenticationRequest', 'DeviceCode'];

function userNotFound(id: string): LatchkeyError {
  return new LatchkeyError('user.not_found', `no user with id ${id}`);
}

/** Checks a new user's fields and password without writing anything (sign-up answers before it hashes). */
export function parseNewUser(deps: Deps, input: CreateUserInput): z.output<typeof createUserInput> {
  return parseInput(withPassword(createUserInput, deps.config.accounts.passwordMinLength, (value) => value.email), input);
}

export async function createUser(deps: Deps, actor: Actor, input: CreateUserInput, options: { createdVia?: CreatedVia; trx?: Knex } = {}): Promise<UserRow> {
  const parsed = parseNewUser(deps, input);
  const passwordHash = await deps.passwords.hash(parsed.password);
  const create = async (trx: Knex) => {
    const user = await insertUser(trx, {
      email: parsed.email,
      name: parsed.name ?? null,
      passwordHash,
      emailVerified: parsed.emailVerified,
      isAdmin: parsed.isAdmin,
      createdVia: options.createdVia ?? 'admin',
    });
    await recordUserCreated(trx, actor, user);
    return user;
  };
  return options.trx ? create(options.trx) : deps.db.knex.transaction(create);
}

/** What a new account leaves behind, in its transaction: the audit row and the user.created event. */
export async function recordUserCreated(trx: Knex, actor: Actor, user: UserRow, details: Record<string, unknown> = {}): Promise<void> {
  await recordAudit(trx, actor, {
    type: 'user.created',
    subject: { type: 'user', id: user.id },
    details: { is_admin: user.isAdmin, created_via: user.createdVia, ...details },
  });
  await emitEvent(trx, 'user.created', { user: userData(user), created_via: user.createdVia });
}

export async function getUser(deps: Deps, id: string): Promise<UserRow> {
  const user = await findUserById(deps.db.knex, id);
  if (!user) throw userNotFound(id);
  return user;
}

/** A user named by id or, for people at a terminal, by email address (an id never contains `@`). */
export async function getUserByIdOrEmail(deps: Deps, reference: string): Promise<UserRow> {
  const user = reference.includes('@') ? await findUserByEmail(deps.db.knex, reference) : await findUserById(deps.db.knex, reference);
  if (!user) throw new LatchkeyError('user.not_found', `no user ${reference}`);
  return user;
}

/** Oldest first; `email` matches any part of the address, case-insensitively. */
export async function listUsers(deps: Deps, query: PageRequest & { email?: string | undefined } = {}): Promise<Page<UserRow>> {
  return keysetPage(
    query,
    isCreatedKey,
    (limit, after) => selectUsers(deps.db.knex, { limit, ...(query.email ? { email: query.email } : {}), ...(after ? { after } : {}) }),
    (user) => user.key,
  );
}

async function changeUser(trx: Knex, id: string, changes: UserChanges): Promise<UserRow> {
  const user = await updateUserRow(trx, id, changes);
  if (!user) throw userNotFound(id);
  return user;
}

export async function updateUser(deps: Deps, actor: Actor, id: string, input: UpdateUserInput): Promise<UserRow> {
  const parsed = parseInput(updateUserInput, input);
  return deps.db.knex.transaction(async (trx) => {
    const current = await findUserById(trx, id);
    if (!current) throw userNotFound(id);
    const changes: UserChanges = {};
    if (parsed.email !== undefined && parsed.email !== current.email) {
      changes.email = parsed.email;
      // A new address is unverified until someone says otherwise.
      changes.emailVerified = parsed.emailVerified ?? false;
    } else if (parsed.emailVerified !== undefined) {
      changes.emailVerified = parsed.emailVerified;
    }
    if (parsed.name !== undefined) changes.name = parsed.name;
    if (parsed.isAdmin !== undefined) changes.isAdmin = parsed.isAdmin;
    const user = await changeUser(trx, id, changes);
    const changed = Object.keys(changes).filter((key) => changes[key as keyof UserChanges] !== current[key as keyof UserRow]);
    await recordAudit(trx, actor, { type: 'user.updated', subject: { type: 'user', id }, details: { changed: changed.map(snakeCase) } });
    if (changed.length > 0) await emitEvent(trx, 'user.updated', { user: userData(user), changed: changed.map(snakeCase) });
    // A newly verified address: the flag set, or a new address set as verified.
    if (user.emailVerified && (!current.emailVerified || user.email !== current.email)) await emitEvent(trx, 'user.email_verified', { user: userData(user) });
    return user;
  });
}

/**
 * Sets a new password. Everyone signed in as the user (sessions and refresh tokens) must sign
 * in again with it: a password set by an admin is usually a response to a compromise.
 */
export async function setUserPassword(
  deps: Deps,
  actor: Actor,
  id: string,
  input: { password: string },
  options: {
    keepSessionUid?: string | undefined;
    reason?: 'admin' | 'reset' | 'change';
    /** Runs first in the same transaction: what allowed the change (a reset link) is used up with it or not at all. */
    authorise?: (trx: Knex) => Promise<void>;
  } = {},
): Promise<UserRow> {
  const current = await getUser(deps, id);
  const parsed = parseInput(withPassword(z.object({ password: z.string({ message: 'is required' }) }), deps.config.accounts.passwordMinLength, () => current.email), input);
  const passwordHash = await deps.passwords.hash(parsed.password);
  return deps.db.knex.transaction(async (trx) => {
    await options.authorise?.(trx);
    const user = await changeUser(trx, id, { passwordHash });
    // A link mailed before the change must not undo it: a reset, or an email change asked for
    // from a session the new password is meant to shut out.
    await retireEmailTokens(trx, id, 'reset_password', now());
    await retireEmailTokens(trx, id, 'verify_email', now());
    await endUserSessions(trx, id, { exceptUid: options.keepSessionUid });
    await recordAudit(trx, actor, { type: 'user.password_changed', subject: { type: 'user', id }, details: { reason: options.reason ?? 'admin' } });
    await emitEvent(trx, 'user.password_changed', { user: userData(user), reason: options.reason ?? 'admin' });
    return user;
  });
}

/** A disabled user cannot sign in; their sessions, grants and tokens end now, and their apps are told. */
export async function disableUser(deps: Deps, actor: Actor, id: string): Promise<UserRow> {
  return deps.db.knex.transaction(async (trx) => {
    const user = await changeUser(trx, id, { disabled: true });
    await endUserSessions(trx, id, { alsoEnd: GRANT_MODELS });
    await recordAudit(trx, actor, { type: 'user.disabled', subject: { type: 'user', id } });
    await emitEvent(trx, 'user.disabled', { user: userData(user) });
    return user;
  });
}

export async function enableUser(deps: Deps, actor: Actor, id: string): Promise<UserRow> {
  return deps.db.knex.transaction(async (trx) => {
    const user = await changeUser(trx, id, { disabled: false });
    await recordAudit(trx, actor, { type: 'user.enabled', subject: { type: 'user', id } });
    await emitEvent(trx, 'user.enabled', { user: userData(user) });
    return user;
  });
}

export async function deleteUser(deps: Deps, actor: Actor, id: string): Promise<void> {
  await deps.db.knex.transaction(async (trx) => {
    const user = await findUserById(trx, id);
    if (!user) throw userNotFound(id);
    await endUserSessions(trx, id);
    await deletePayloadsByAccountId(trx, id);
    await deleteUserRow(trx, id);
    await recordAudit(trx, actor, { type: 'user.deleted', subject: { type: 'user', id } });
    await emitEvent(trx, 'user.deleted', { user: userData(user) });
  });
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
