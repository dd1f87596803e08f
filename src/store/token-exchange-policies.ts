import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { isUuid } from '../util/uuid.js';
import { afterCreatedKey, createdKeyColumn, type CreatedKey } from './pagination.js';
import { isStorableKey } from './sql.js';

/** One RFC 8693 permission: `clientId` may exchange tokens for `subjectAudience` for tokens for `targetAudience`. */
export interface TokenExchangePolicyRow {
  id: string;
  clientId: string;
  subjectAudience: string;
  targetAudience: string;
  /** The most an exchange under this policy may be given (scopes of the target API). */
  scopes: string[];
  createdAt: Date;
}

interface PolicyColumns {
  id: string;
  client_id: string;
  subject_audience: string;
  target_audience: string;
  scopes: string[];
  created_at: Date | string;
}

function policyFromColumns(row: PolicyColumns): TokenExchangePolicyRow {
  return {
    id: row.id,
    clientId: row.client_id,
    subjectAudience: row.subject_audience,
    targetAudience: row.target_audience,
    scopes: row.scopes,
    createdAt: new Date(row.created_at),
  };
}

export async function insertPolicy(
  db: Knex,
  policy: { clientId: string; subjectAudience: string; targetAudience: string; scopes: string[] },
): Promise<TokenExchangePolicyRow> {
  const [row] = (await db('token_exchange_policies')
    .insert({
      id: randomUUID(),
      client_id: policy.clientId,
      subject_audience: policy.subjectAudience,
      target_audience: policy.targetAudience,
      scopes: policy.scopes,
    })
    .returning('*')) as PolicyColumns[];
  return policyFromColumns(row!);
}

export async function findPolicy(db: Knex, id: string): Promise<TokenExchangePolicyRow | undefined> {
  if (!isUuid(id)) return undefined;
  const row = (await db('token_exchange_policies').where({ id }).first()) as PolicyColumns | undefined;
  return row ? policyFromColumns(row) : undefined;
}

/** The policy an exchange request falls under, if any. */
export async function findMatchingPolicy(
  db: Knex,
  match: { clientId: string; subjectAudience: string; targetAudience: string },
): Promise<TokenExchangePolicyRow | undefined> {
  if (![match.clientId, match.subjectAudience, match.targetAudience].every(isStorableKey)) return undefined;
  const row = (await db('token_exchange_policies')
    .where({ client_id: match.clientId, subject_audience: match.subjectAudience, target_audience: match.targetAudience })
    .first()) as PolicyColumns | undefined;
  return row ? policyFromColumns(row) : undefined;
}

/** Oldest first; only one client's when `clientId` is given. */
export async function listPolicies(
  db: Knex,
  options: { limit: number; after?: CreatedKey; clientId?: string },
): Promise<Array<TokenExchangePolicyRow & { key: CreatedKey }>> {
  const query = db('token_exchange_policies')
    .select('token_exchange_policies.*', createdKeyColumn(db, 'token_exchange_policies'))
    .orderBy([{ column: 'created_at' }, { column: 'id' }])
    .limit(options.limit);
  if (options.clientId !== undefined) query.where({ client_id: isStorableKey(options.clientId) ? options.clientId : '' });
  afterCreatedKey(query, 'token_exchange_policies', 'id', options.after);
  const rows = (await query) as Array<PolicyColumns & { page_created_at: string }>;
  return rows.map((row) => ({ ...policyFromColumns(row), key: { createdAt: row.page_created_at, id: row.id } }));
}

export async function deletePolicy(db: Knex, id: string): Promise<TokenExchangePolicyRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = (await db('token_exchange_policies').where({ id }).delete().returning('*')) as PolicyColumns[];
  return row ? policyFromColumns(row) : undefined;
}
