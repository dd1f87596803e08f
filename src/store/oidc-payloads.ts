import type { Knex } from 'knex';
import { deleteBatch, isStorableKey } from './sql.js';

export type Payload = Record<string, unknown>;

export interface StoredPayload {
  payload: Payload;
  consumedAt: Date | null;
}

interface PayloadColumns {
  payload: Payload | string;
  consumed_at: Date | string | null;
}

function fromColumns(row: PayloadColumns): StoredPayload {
  return {
    payload: typeof row.payload === 'string' ? (JSON.parse(row.payload) as Payload) : row.payload,
    consumedAt: row.consumed_at === null ? null : new Date(row.consumed_at),
  };
}

export interface PayloadKey {
  model: string;
  /** Already hashed by the caller. */
  id: string;
}

export async function upsertPayload(
  db: Knex,
  key: PayloadKey,
  row: {
    payload: Payload;
    grantId: string | null;
    userCode: string | null;
    uid: string | null;
    accountId: string | null;
    clientId: string | null;
    expiresAt: Date | null;
  },
): Promise<void> {
  await db('oidc_payloads')
    .insert({
      model: key.model,
      id: key.id,
      payload: JSON.stringify(row.payload),
      grant_id: row.grantId,
      user_code: row.userCode,
      uid: row.uid,
      account_id: row.accountId,
      client_id: row.clientId,
      expires_at: row.expiresAt,
    })
    .onConflict(['model', 'id'])
    .merge(['payload', 'grant_id', 'user_code', 'uid', 'account_id', 'client_id', 'expires_at']);
}

// Expiry is decided here, in SQL, so an expired row is never handed to the provider.
function live(db: Knex, model: string, now: Date) {
  return db('oidc_payloads')
    .select<PayloadColumns[]>('payload', 'consumed_at')
    .where({ model })
    .andWhere((query) => query.whereNull('expires_at').orWhere('expires_at', '>', now));
}

export async function findPayload(db: Knex, key: PayloadKey, now: Date): Promise<StoredPayload | undefined> {
  const row = await live(db, key.model, now).andWhere({ id: key.id }).first();
  return row ? fromColumns(row) : undefined;
}

export async function findPayloadByUid(db: Knex, model: string, uid: string, now: Date): Promise<StoredPayload | undefined> {
  if (!isStorableKey(uid)) return undefined;
  const row = await live(db, model, now).andWhere({ uid }).first();
  return row ? fromColumns(row) : undefined;
}

export async function findPayloadByUserCode(db: Knex, model: string, userCode: string, now: Date): Promise<StoredPayload | undefined> {
  if (!isStorableKey(userCode)) return undefined;
  const row = await live(db, model, now).andWhere({ user_code: userCode }).first();
  return row ? fromColumns(row) : undefined;
}

/** One statement: of concurrent consumers exactly one sees `true`. */
export async function consumePayload(db: Knex, key: PayloadKey, now: Date): Promise<boolean> {
  const updated = await db('oidc_payloads').where({ model: key.model, id: key.id }).whereNull('consumed_at').update({ consumed_at: now });
  return updated > 0;
}

export async function deletePayload(db: Knex, key: PayloadKey): Promise<void> {
  await db('oidc_payloads').where({ model: key.model, id: key.id }).delete();
}

/** `grantId` is the digest the adapter stores: a grant's own row and every token it issued. */
export async function deletePayloadsByGrantId(db: Knex, grantId: string): Promise<number> {
  if (!isStorableKey(grantId)) return 0;
  return (await db('oidc_payloads').where({ grant_id: grantId }).delete().returning('id')).length;
}

/** Everything held for an account: sessions, grants, codes and tokens; `models` narrows it. */
export async function deletePayloadsByAccountId(db: Knex, accountId: string, models?: string[]): Promise<number> {
  const query = db('oidc_payloads').where({ account_id: accountId });
  if (models) query.whereIn('model', models);
  return (await query.delete().returning('id')).length;
}

export interface GrantRecord {
  /** The digest stored in grant_id: the public name of a grant. */
  grantId: string;
  accountId: string;
  clientId: string;
  payload: Payload;
  expiresAt: Date | null;
}

interface GrantColumns {
  grant_id: string;
  account_id: string;
  client_id: string;
  payload: Payload | string;
  expires_at: Date | string | null;
}

function grantFromColumns(row: GrantColumns): GrantRecord {
  return {
    grantId: row.grant_id,
    accountId: row.account_id,
    clientId: row.client_id,
    payload: typeof row.payload === 'string' ? (JSON.parse(row.payload) as Payload) : row.payload,
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
  };
}

export async function listGrants(db: Knex, accountId: string, now: Date): Promise<GrantRecord[]> {
  const rows = await live(db, 'Grant', now)
    .clearSelect()
    .select<GrantColumns[]>('grant_id', 'account_id', 'client_id', 'payload', 'expires_at')
    .andWhere({ account_id: accountId })
    .orderBy('expires_at', 'desc');
  return rows.map(grantFromColumns);
}

export async function findGrant(db: Knex, grantId: string, now: Date): Promise<GrantRecord | undefined> {
  if (!isStorableKey(grantId)) return undefined;
  const row = await live(db, 'Grant', now)
    .clearSelect()
    .select<GrantColumns[]>('grant_id', 'account_id', 'client_id', 'payload', 'expires_at')
    .andWhere({ grant_id: grantId })
    .first();
  return row ? grantFromColumns(row) : undefined;
}

/**
 * The id of the newest live grant an account gave a client: the consent a session that has not
 * met the client yet starts from. Only grants whose payload keeps their id can be found.
 */
export async function findLatestGrantId(db: Knex, accountId: string, clientId: string, now: Date): Promise<string | undefined> {
  if (!isStorableKey(accountId) || !isStorableKey(clientId)) return undefined;
  const row = await live(db, 'Grant', now)
    .andWhere({ account_id: accountId, client_id: clientId })
    .whereRaw("payload->>'jti' is not null")
    .orderByRaw("(payload->>'iat')::bigint desc")
    .first();
  const jti = row ? fromColumns(row).payload.jti : undefined;
  return typeof jti === 'string' ? jti : undefined;
}

export async function deletePayloadsByClientId(db: Knex, clientId: string): Promise<void> {
  await db('oidc_payloads').where({ client_id: clientId }).delete();
}

/** Deletes at most `batch` expired rows; returns how many went, so callers can loop in bounded steps. */
export async function deleteExpiredPayloads(db: Knex, now: Date, batch: number): Promise<number> {
  return deleteBatch(db, 'oidc_payloads', ['model', 'id'], (query) => query.where('expires_at', '<', now), batch);
}

export interface SessionRecord {
  uid: string;
  accountId: string;
  /** Seconds since the epoch. */
  loginTs: number | undefined;
  expiresAt: Date | null;
  /** Per application signed in through this session: the sid it was told. */
  authorizations: Record<string, { sid?: string; grantId?: string }>;
}

export async function listSessions(db: Knex, accountId: string, now: Date): Promise<SessionRecord[]> {
  if (!isStorableKey(accountId)) return [];
  const rows = await live(db, 'Session', now).clearSelect().select<Array<PayloadColumns & { expires_at: Date | string | null }>>('payload', 'consumed_at', 'expires_at').andWhere({ account_id: accountId });
  return rows
    .map((row) => {
      const payload = fromColumns(row).payload as { uid?: string; loginTs?: number; authorizations?: SessionRecord['authorizations'] };
      return {
        uid: payload.uid ?? '',
        accountId,
        loginTs: payload.loginTs,
        expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
        authorizations: payload.authorizations ?? {},
      };
    })
    .filter((session) => session.uid !== '')
    .sort((a, b) => (b.loginTs ?? 0) - (a.loginTs ?? 0));
}

/** A session and the refresh tokens issued while it was signed in. */
export async function deleteSession(db: Knex, accountId: string, uid: string): Promise<boolean> {
  if (!isStorableKey(uid)) return false;
  const deleted = await db('oidc_payloads').where({ model: 'Session', uid, account_id: accountId }).delete().returning('id');
  await db('oidc_payloads').where({ model: 'RefreshToken', account_id: accountId }).whereRaw("payload->>'sessionUid' = ?", [uid]).delete();
  return deleted.length > 0;
}
