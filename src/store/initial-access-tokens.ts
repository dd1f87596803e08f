import type { Knex } from 'knex';
import { afterCreatedKey, createdKeyColumn, type CreatedKey } from './pagination.js';
import { isStorableKey } from './sql.js';
import { isUuid } from '../util/uuid.js';

export interface InitialAccessTokenRow {
  id: string;
  description: string | null;
  createdBy: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

interface InitialAccessTokenColumns {
  id: string;
  token_hash: string;
  description: string | null;
  created_by: string | null;
  created_at: Date | string;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
  page_created_at?: string;
}

const date = (value: Date | string | null) => (value === null ? null : new Date(value));

function fromColumns(row: InitialAccessTokenColumns): InitialAccessTokenRow {
  return {
    id: row.id,
    description: row.description,
    createdBy: row.created_by,
    createdAt: new Date(row.created_at),
    expiresAt: date(row.expires_at),
    revokedAt: date(row.revoked_at),
  };
}

export async function insertInitialAccessToken(
  db: Knex,
  token: { tokenHash: string; description: string | null; createdBy: string | null; expiresAt: Date | null },
): Promise<InitialAccessTokenRow> {
  const [row] = await db<InitialAccessTokenColumns>('initial_access_tokens')
    .insert({ token_hash: token.tokenHash, description: token.description, created_by: token.createdBy, expires_at: token.expiresAt })
    .returning('*');
  return fromColumns(row as InitialAccessTokenColumns);
}

/** A token that still works at `now`: not revoked, not expired. */
export async function findUsableInitialAccessToken(db: Knex, tokenHash: string, now: Date): Promise<InitialAccessTokenRow | undefined> {
  if (!isStorableKey(tokenHash)) return undefined;
  const row = await db<InitialAccessTokenColumns>('initial_access_tokens')
    .where({ token_hash: tokenHash })
    .whereNull('revoked_at')
    .andWhere((query) => query.whereNull('expires_at').orWhere('expires_at', '>', now))
    .first();
  return row ? fromColumns(row) : undefined;
}

export async function listInitialAccessTokens(
  db: Knex,
  options: { limit: number; after?: CreatedKey },
): Promise<Array<InitialAccessTokenRow & { key: CreatedKey }>> {
  const query = db<InitialAccessTokenColumns>('initial_access_tokens')
    .select('initial_access_tokens.*', createdKeyColumn(db, 'initial_access_tokens'))
    .orderBy([{ column: 'created_at' }, { column: 'id' }])
    .limit(options.limit);
  afterCreatedKey(query, 'initial_access_tokens', 'id', options.after);
  const rows = (await query) as InitialAccessTokenColumns[];
  return rows.map((row) => ({ ...fromColumns(row), key: { createdAt: row.page_created_at!, id: row.id } }));
}

export async function revokeInitialAccessToken(db: Knex, id: string, now: Date): Promise<InitialAccessTokenRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await db<InitialAccessTokenColumns>('initial_access_tokens')
    .where({ id })
    .update({ revoked_at: db.raw('coalesce(revoked_at, ?)', [now]) as unknown as Date })
    .returning('*');
  return row ? fromColumns(row as InitialAccessTokenColumns) : undefined;
}
