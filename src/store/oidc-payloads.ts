import type { Knex } from 'knex';
import { deleteBatch, isStorableKey, runSql } from './sql.js';

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

export interface PayloadRow {
  payload: Payload;
  grantId: string | null;
  userCode: string | null;
  uid: string | null;
  accountId: string | null;
  clientId: string | null;
  expiresAt: Date | null;
}

/** Writes rows in one statement; a key must not appear twice. */
export async function upsertPayloads(db: Knex, rows: ReadonlyArray<{ key: PayloadKey; row: PayloadRow }>): Promise<void> {
  if (rows.length === 0) return;
  await runSql(
    db,
    `INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, account_id, client_id, expires_at)
     VALUES ${rows.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
     ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, user_code = EXCLUDED.user_code,
       uid = EXCLUDED.uid, account_id = EXCLUDED.account_id, client_id = EXCLUDED.client_id, expires_at = EXCLUDED.expires_at`,
    rows.flatMap(({ key, row }) => [key.model, key.id, JSON.stringify(row.payload), row.grantId, row.userCode, row.uid, row.accountId, row.clientId, row.expiresAt]),
  );
}

// Expiry is decided here, in SQL, so an expired row is never handed to the provider.
const liveRow = (alias = '') => `(${alias}expires_at IS NULL OR ${alias}expires_at > ?)`;
const LIVE = liveRow();

function live(db: Knex, model: string, now: Date) {
  return db('oidc_payloads').select<PayloadColumns[]>('payload', 'consumed_at').where({ model }).andWhereRaw(LIVE, [now]);
}

async function findOne(db: Knex, model: string, column: 'id' | 'uid' | 'user_code', value: string, now: Date): Promise<StoredPayload | undefined> {
  const [row] = await runSql<PayloadColumns>(db, `SELECT payload, consumed_at FROM oidc_payloads WHERE model = ? AND ${column} = ? AND ${LIVE} LIMIT 1`, [model, value, now]);
  return row ? fromColumns(row) : undefined;
}

export async function findPayload(db: Knex, key: PayloadKey, now: Date): Promise<StoredPayload | undefined> {
  return findOne(db, key.model, 'id', key.id, now);
}

export async function findPayloadByUid(db: Knex, model: string, uid: string, now: Date): Promise<StoredPayload | undefined> {
  return isStorableKey(uid) ? findOne(db, model, 'uid', uid, now) : undefined;
}

export async function findPayloadByUserCode(db: Knex, model: string, userCode: string, now: Date): Promise<StoredPayload | undefined> {
  return isStorableKey(userCode) ? findOne(db, model, 'user_code', userCode, now) : undefined;
}

/** What one id names across several models, and the grant each of those belongs to. */
export interface PayloadsById {
  /** By model; a model with no live row under the id is missing. */
  found: Map<string, StoredPayload>;
  /** The live grants of what was found, by their stored id. */
  grants: Map<string, StoredPayload>;
}

/**
 * One round trip for what the provider asks in several: a token value may be an access,
 * client-credentials or refresh token (introspection and revocation look in each), and what
 * it is checked against next is its grant. Answers for each of `ids`.
 */
export async function findPayloadsByIds(db: Knex, ids: readonly string[], models: readonly string[], now: Date): Promise<Map<string, PayloadsById>> {
  const idList = ids.map(() => '?').join(', ');
  const modelList = models.map(() => '?').join(', ');
  const rows = await runSql<PayloadColumns & { model: string; id: string; token_id: string }>(
    db,
    `SELECT model, id, payload, consumed_at, id AS token_id FROM oidc_payloads WHERE id IN (${idList}) AND model IN (${modelList}) AND ${LIVE}
     UNION ALL
     SELECT g.model, g.id, g.payload, g.consumed_at, t.id AS token_id FROM oidc_payloads t
       JOIN oidc_payloads g ON g.model = 'Grant' AND g.id = t.grant_id AND ${liveRow('g.')}
       WHERE t.id IN (${idList}) AND t.model IN (${modelList})`,
    [...ids, ...models, now, now, ...ids, ...models],
  );
  const answers = new Map(ids.map((id) => [id, { found: new Map<string, StoredPayload>(), grants: new Map<string, StoredPayload>() }]));
  for (const row of rows) {
    const answer = answers.get(row.token_id);
    if (!answer) continue;
    if (row.model === 'Grant') answer.grants.set(row.id, fromColumns(row));
    else answer.found.set(row.model, fromColumns(row));
  }
  return answers;
}

/**
 * Marks rows consumed in one statement and returns the keys (`model:id`) this call consumed:
 * of concurrent consumers of one row, exactly one gets it back.
 */
export async function consumePayloads(db: Knex, keys: readonly PayloadKey[], now: Date): Promise<Set<string>> {
  const rows = await runSql<{ model: string; id: string }>(
    db,
    `UPDATE oidc_payloads SET consumed_at = ? WHERE consumed_at IS NULL AND (model, id) IN (${keys.map(() => '(?, ?)').join(', ')}) RETURNING model, id`,
    [now, ...keys.flatMap((key) => [key.model, key.id])],
  );
  return new Set(rows.map((row) => `${row.model}:${row.id}`));
}

export async function deletePayload(db: Knex, key: PayloadKey): Promise<void> {
  await runSql(db, 'DELETE FROM oidc_payloads WHERE model = ? AND id = ?', [key.model, key.id]);
}

/** `grantId` is the digest the adapter stores: a grant's own row and every token it issued. */
export async function deletePayloadsByGrantId(db: Knex, grantId: string): Promise<number> {
  if (!isStorableKey(grantId)) return 0;
  return (await runSql(db, 'DELETE FROM oidc_payloads WHERE grant_id = ? RETURNING id', [grantId])).length;
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
