import type { Knex } from 'knex';
import { afterCreatedKey, createdKeyColumn, type CreatedKey } from './pagination.js';
import { isUuid } from '../util/uuid.js';
import { containsPattern, isStorableKey, mapUniqueViolation, runSql } from './sql.js';

export interface UserRow {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string | null;
  passwordHash: string | null;
  disabled: boolean;
  isAdmin: boolean;
  createdVia: 'admin' | 'signup' | 'import' | 'upstream';
  createdAt: Date;
  updatedAt: Date;
}

interface UserColumns {
  id: string;
  email: string;
  email_verified: boolean;
  name: string | null;
  password_hash: string | null;
  disabled: boolean;
  is_admin: boolean;
  created_via: 'admin' | 'signup' | 'import' | 'upstream';
  created_at: Date | string;
  updated_at: Date | string;
  page_created_at?: string;
}

export type UserChanges = Partial<Pick<UserRow, 'email' | 'emailVerified' | 'name' | 'passwordHash' | 'disabled' | 'isAdmin'>>;

function fromColumns(row: UserColumns): UserRow {
  return {
    id: row.id,
    email: row.email,
    emailVerified: row.email_verified,
    name: row.name,
    passwordHash: row.password_hash,
    disabled: row.disabled,
    isAdmin: row.is_admin,
    createdVia: row.created_via,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

function toColumns(changes: UserChanges): Partial<UserColumns> {
  const columns: Partial<UserColumns> = {};
  if (changes.email !== undefined) columns.email = changes.email;
  if (changes.emailVerified !== undefined) columns.email_verified = changes.emailVerified;
  if (changes.name !== undefined) columns.name = changes.name;
  if (changes.passwordHash !== undefined) columns.password_hash = changes.passwordHash;
  if (changes.disabled !== undefined) columns.disabled = changes.disabled;
  if (changes.isAdmin !== undefined) columns.is_admin = changes.isAdmin;
  return columns;
}

export async function insertUser(
  db: Knex,
  user: { email: string; name: string | null; passwordHash: string | null; emailVerified: boolean; isAdmin: boolean; createdVia: UserRow['createdVia'] },
): Promise<UserRow> {
  const [row] = await mapUniqueViolation(
    db<UserColumns>('users')
      .insert({
        email: user.email,
        name: user.name,
        password_hash: user.passwordHash,
        email_verified: user.emailVerified,
        is_admin: user.isAdmin,
        created_via: user.createdVia,
      })
      .returning('*'),
    'user.email_taken',
    'email',
  );
  return fromColumns(row as UserColumns);
}

export async function findUserById(db: Knex, id: string): Promise<UserRow | undefined> {
  // Subjects arrive from tokens, cookies and URLs; a malformed one is simply nobody.
  if (!isUuid(id)) return undefined;
  // Read on every refresh and userinfo request: written out (see runSql).
  const [row] = await runSql<UserColumns>(db, 'SELECT * FROM users WHERE id = ? LIMIT 1', [id]);
  return row ? fromColumns(row) : undefined;
}

/** The users among `ids` (in no particular order); ids that are not uuids name nobody. */
export async function findUsersByIds(db: Knex, ids: readonly string[]): Promise<UserRow[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  const rows = await runSql<UserColumns>(db, `SELECT * FROM users WHERE id IN (${valid.map(() => '?').join(', ')})`, valid);
  return rows.map(fromColumns);
}

export async function findUserByEmail(db: Knex, email: string): Promise<UserRow | undefined> {
  if (!isStorableKey(email)) return undefined;
  const row = await db<UserColumns>('users').whereRaw('lower(email) = lower(?)', [email]).first();
  return row ? fromColumns(row) : undefined;
}

/** Oldest first, so a listing reads in the order users were created. */
export async function listUsers(
  db: Knex,
  options: { limit: number; email?: string; after?: CreatedKey },
): Promise<Array<UserRow & { key: CreatedKey }>> {
  if (options.email && !isStorableKey(options.email)) return [];
  const query = db<UserColumns>('users')
    .select('users.*', createdKeyColumn(db, 'users'))
    .orderBy([{ column: 'created_at' }, { column: 'id' }])
    .limit(options.limit);
  if (options.email) query.whereRaw('lower(email) LIKE ?', [containsPattern(options.email.toLowerCase())]);
  afterCreatedKey(query, 'users', 'id', options.after);
  const rows = (await query) as UserColumns[];
  return rows.map((row) => ({ ...fromColumns(row), key: { createdAt: row.page_created_at!, id: row.id } }));
}

export async function updateUser(db: Knex, id: string, changes: UserChanges): Promise<UserRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await mapUniqueViolation(
    db('users')
      .where({ id })
      .update({ ...toColumns(changes), updated_at: db.fn.now() })
      .returning('*'),
    'user.email_taken',
    'email',
  );
  return row ? fromColumns(row as UserColumns) : undefined;
}

export async function deleteUser(db: Knex, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  return (await db('users').where({ id }).delete().returning('id')).length > 0;
}

/**
 * Swaps a password hash for an equivalent one, only if it is still `current`: a password set
 * meanwhile (by the user or an admin) must not be overwritten with the old one.
 */
export async function replacePasswordHash(db: Knex, id: string, current: string, next: string): Promise<boolean> {
  const updated = await db('users').where({ id, password_hash: current }).update({ password_hash: next, updated_at: db.fn.now() });
  return updated > 0;
}

/** Inserts a user unless one with the same email (any case) exists; undefined when it does. */
export async function insertUserUnlessTaken(
  db: Knex,
  user: { email: string; name: string | null; passwordHash: string | null; emailVerified: boolean; disabled: boolean; createdVia: UserRow['createdVia'] },
): Promise<UserRow | undefined> {
  const rows = (await db<UserColumns>('users')
    .insert({
      email: user.email,
      name: user.name,
      password_hash: user.passwordHash,
      email_verified: user.emailVerified,
      disabled: user.disabled,
      created_via: user.createdVia,
    })
    .onConflict()
    .ignore()
    .returning('*')) as UserColumns[];
  return rows[0] ? fromColumns(rows[0]) : undefined;
}
