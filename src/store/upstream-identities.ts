import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

export interface UpstreamIdentityRow {
  id: string;
  providerId: string;
  subject: string;
  userId: string;
  email: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

interface IdentityColumns {
  id: string;
  provider_id: string;
  subject: string;
  user_id: string;
  email: string | null;
  created_at: Date | string;
  last_used_at: Date | string | null;
}

function fromColumns(row: IdentityColumns): UpstreamIdentityRow {
  return {
    id: row.id,
    providerId: row.provider_id,
    subject: row.subject,
    userId: row.user_id,
    email: row.email,
    createdAt: new Date(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
  };
}

export async function insertIdentity(db: Knex, identity: { providerId: string; subject: string; userId: string; email: string | null }): Promise<UpstreamIdentityRow> {
  const [row] = await db<IdentityColumns>('upstream_identities')
    .insert({ id: randomUUID(), provider_id: identity.providerId, subject: identity.subject, user_id: identity.userId, email: identity.email })
    .returning('*');
  return fromColumns(row as IdentityColumns);
}

export async function findIdentity(db: Knex, providerId: string, subject: string): Promise<UpstreamIdentityRow | undefined> {
  const row = await db<IdentityColumns>('upstream_identities').where({ provider_id: providerId, subject }).first();
  return row ? fromColumns(row) : undefined;
}

export async function listUserIdentities(db: Knex, userId: string): Promise<UpstreamIdentityRow[]> {
  const rows = await db<IdentityColumns>('upstream_identities').where({ user_id: userId }).orderBy('created_at');
  return rows.map(fromColumns);
}

export async function deleteUserIdentity(db: Knex, userId: string, id: string): Promise<UpstreamIdentityRow | undefined> {
  const [row] = await db<IdentityColumns>('upstream_identities').where({ user_id: userId, id }).delete().returning('*');
  return row ? fromColumns(row as IdentityColumns) : undefined;
}

export async function touchIdentity(db: Knex, id: string, email: string | null): Promise<void> {
  await db('upstream_identities').where({ id }).update({ last_used_at: db.fn.now(), email });
}

export async function countProviderIdentities(db: Knex, providerId: string): Promise<number> {
  const row = await db('upstream_identities').where({ provider_id: providerId }).count<{ n: string | number }[]>('* as n').first();
  return Number(row?.n ?? 0);
}
