import type { Knex } from 'knex';
import { containsPattern, isStorableKey, mapUniqueViolation } from './sql.js';

export interface UserRow {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string | null;
  passwordHash: string | null;
  disabled: boolean;
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
  created_at: Date | string;
  updated_at: Date | string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function fromColumns(row: UserColumns): UserRow {
  return {
    id: row.id,
    email: row.email,
    emailVerified: row.email_verified,
    name: row.name,
    passwordHash: row.password_hash,
    disabled: row.disabled,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export async function insertUser(
  db: Knex,
  user: { email: string; name: string | null; passwordHash: string | null; emailVerified: boolean },
): Promise<UserRow> {
  const [row] = await mapUniqueViolation(
    db<UserColumns>('users')
      .insert({ email: user.email, name: user.name, password_hash: user.passwordHash, email_verified: user.emailVerified })
      .returning('*'),
    'user.email_taken',
    'email',
  );
  return fromColumns(row as UserColumns);
}

export async function findUserById(db: Knex, id: string): Promise<UserRow | undefined> {
  // Subjects arrive from tokens and cookies; a malformed one is simply nobody.
  if (!UUID.test(id)) return undefined;
  const row = await db<UserColumns>('users').where({ id }).first();
  return row ? fromColumns(row) : undefined;
}

export async function findUserByEmail(db: Knex, email: string): Promise<UserRow | undefined> {
  if (!isStorableKey(email)) return undefined;
  const row = await db<UserColumns>('users').whereRaw('lower(email) = lower(?)', [email]).first();
  return row ? fromColumns(row) : undefined;
}

/** Oldest first, so a listing reads in the order users were created. */
export async function listUsers(db: Knex, options: { limit: number; email?: string }): Promise<UserRow[]> {
  if (options.email && !isStorableKey(options.email)) return [];
  const query = db<UserColumns>('users').orderBy([{ column: 'created_at' }, { column: 'id' }]).limit(options.limit);
  if (options.email) query.whereRaw('lower(email) LIKE ?', [containsPattern(options.email.toLowerCase())]);
  return (await query).map(fromColumns);
}
