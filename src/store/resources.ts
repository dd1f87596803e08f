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

export async function listResources(db: Knex, options: { limit: number }): Promise<ResourceRow[]> {
  return (await db<ResourceColumns>('resources').orderBy('identifier').limit(options.limit)).map(fromColumns);
}
