import type { Knex } from 'knex';
import { isStorableKey } from './sql.js';

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

export async function deletePayloadsByGrantId(db: Knex, grantId: string): Promise<void> {
  await db('oidc_payloads').where({ grant_id: grantId }).delete();
}

export async function deletePayloadsByClientId(db: Knex, clientId: string): Promise<void> {
  await db('oidc_payloads').where({ client_id: clientId }).delete();
}

/** Deletes at most `batch` expired rows; returns how many went, so callers can loop in bounded steps. */
export async function deleteExpiredPayloads(db: Knex, now: Date, batch: number): Promise<number> {
  // `returning` rather than the affected-row count, which PGlite's Knex dialect does not give for deletes.
  const deleted = await db('oidc_payloads')
    .whereIn(['model', 'id'], db('oidc_payloads').select('model', 'id').where('expires_at', '<', now).limit(batch))
    .delete()
    .returning('id');
  return deleted.length;
}
