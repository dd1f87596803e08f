import type { Knex } from 'knex';
import { isStorableKey, toNumber } from './sql.js';

export type AccessTokenFormat = 'jwt' | 'opaque';

export interface ResourceRow {
  identifier: string;
  scopes: string[];
  accessTokenFormat: AccessTokenFormat;
  /** Seconds; null means the configured default. */
  accessTokenTtl: number | null;
  introspectionClientId: string | null;
  createdAt: Date;
}

interface ResourceColumns {
  identifier: string;
  scopes: string[] | string;
  access_token_format: AccessTokenFormat;
  access_token_ttl: number | string | null;
  introspection_client_id: string | null;
  created_at: Date | string;
}

function fromColumns(row: ResourceColumns): ResourceRow {
  return {
    identifier: row.identifier,
    scopes: typeof row.scopes === 'string' ? (JSON.parse(row.scopes) as string[]) : row.scopes,
    accessTokenFormat: row.access_token_format,
    accessTokenTtl: row.access_token_ttl === null ? null : toNumber(row.access_token_ttl),
    introspectionClientId: row.introspection_client_id,
    createdAt: new Date(row.created_at),
  };
}

export async function insertResource(
  db: Knex,
  resource: { identifier: string; scopes: string[]; accessTokenFormat: AccessTokenFormat; accessTokenTtl: number | null; introspectionClientId: string | null },
): Promise<ResourceRow> {
  const [row] = await db<ResourceColumns>('resources')
    .insert({
      identifier: resource.identifier,
      scopes: JSON.stringify(resource.scopes),
      access_token_format: resource.accessTokenFormat,
      access_token_ttl: resource.accessTokenTtl,
      introspection_client_id: resource.introspectionClientId,
    })
    .returning('*');
  return fromColumns(row as ResourceColumns);
}

export async function findResource(db: Knex, identifier: string): Promise<ResourceRow | undefined> {
  if (!isStorableKey(identifier)) return undefined;
  const row = await db<ResourceColumns>('resources').where({ identifier }).first();
  return row ? fromColumns(row) : undefined;
}

export async function findResources(db: Knex, identifiers: string[]): Promise<ResourceRow[]> {
  if (identifiers.length === 0) return [];
  return (await db<ResourceColumns>('resources').whereIn('identifier', identifiers)).map(fromColumns);
}

/** By identifier; `after` is the last identifier of the previous page. */
export async function listResources(db: Knex, options: { limit: number; after?: string }): Promise<ResourceRow[]> {
  const query = db<ResourceColumns>('resources').orderBy('identifier').limit(options.limit);
  if (options.after !== undefined && isStorableKey(options.after)) query.where('identifier', '>', options.after);
  return (await query).map(fromColumns);
}

export type ResourceChanges = Partial<Pick<ResourceRow, 'scopes' | 'accessTokenFormat' | 'accessTokenTtl' | 'introspectionClientId'>>;

export async function updateResource(db: Knex, identifier: string, changes: ResourceChanges): Promise<ResourceRow | undefined> {
  if (!isStorableKey(identifier)) return undefined;
  const columns: Record<string, unknown> = { updated_at: db.fn.now() };
  if (changes.scopes !== undefined) columns.scopes = JSON.stringify(changes.scopes);
  if (changes.accessTokenFormat !== undefined) columns.access_token_format = changes.accessTokenFormat;
  if (changes.accessTokenTtl !== undefined) columns.access_token_ttl = changes.accessTokenTtl;
  if (changes.introspectionClientId !== undefined) columns.introspection_client_id = changes.introspectionClientId;
  const [row] = await db<ResourceColumns>('resources').where({ identifier }).update(columns).returning('*');
  return row ? fromColumns(row as ResourceColumns) : undefined;
}

export async function deleteResource(db: Knex, identifier: string): Promise<boolean> {
  if (!isStorableKey(identifier)) return false;
  return (await db('resources').where({ identifier }).delete().returning('identifier')).length > 0;
}

/** Drops scopes a resource no longer has from every client's allowance for it. */
export async function restrictClientScopes(db: Knex, identifier: string, scopes: string[]): Promise<void> {
  const rows: Array<{ client_id: string; scopes: string[] | string }> = await db('client_resources').where({ resource_identifier: identifier });
  for (const row of rows) {
    const current = typeof row.scopes === 'string' ? (JSON.parse(row.scopes) as string[]) : row.scopes;
    const kept = current.filter((scope) => scopes.includes(scope));
    if (kept.length !== current.length) {
      await db('client_resources').where({ client_id: row.client_id, resource_identifier: identifier }).update({ scopes: JSON.stringify(kept) });
    }
  }
}
