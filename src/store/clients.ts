import type { Knex } from 'knex';
import { containsPattern, isStorableKey } from './sql.js';

/** Client metadata as oidc-provider reads it (RFC 7591 names), without id and secret. */
export interface ClientMetadata {
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: 'none' | 'client_secret_basic' | 'client_secret_post';
  scope: string;
  cors_origins: string[];
}

export interface ClientResourceAccess {
  identifier: string;
  scopes: string[];
}

export interface ClientRow {
  clientId: string;
  name: string;
  clientSecret: string | null;
  metadata: ClientMetadata;
  resources: ClientResourceAccess[];
  createdAt: Date;
  updatedAt: Date;
}

interface ClientColumns {
  client_id: string;
  name: string;
  client_secret: string | null;
  metadata: ClientMetadata | string;
  created_at: Date | string;
  updated_at: Date | string;
}

interface ClientResourceColumns {
  client_id: string;
  resource_identifier: string;
  scopes: string[] | string;
}

function json<T>(value: T | string): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

function fromColumns(row: ClientColumns, access: ClientResourceColumns[]): ClientRow {
  return {
    clientId: row.client_id,
    name: row.name,
    clientSecret: row.client_secret,
    metadata: json(row.metadata),
    resources: access
      .filter((entry) => entry.client_id === row.client_id)
      .map((entry) => ({ identifier: entry.resource_identifier, scopes: json(entry.scopes) })),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export async function insertClient(
  db: Knex,
  client: { clientId: string; name: string; clientSecret: string | null; metadata: ClientMetadata; resources: ClientResourceAccess[] },
): Promise<void> {
  await db('clients').insert({
    client_id: client.clientId,
    name: client.name,
    client_secret: client.clientSecret,
    metadata: JSON.stringify(client.metadata),
  });
  if (client.resources.length > 0) {
    await db('client_resources').insert(
      client.resources.map((entry) => ({
        client_id: client.clientId,
        resource_identifier: entry.identifier,
        scopes: JSON.stringify(entry.scopes),
      })),
    );
  }
}

export async function findClient(db: Knex, clientId: string): Promise<ClientRow | undefined> {
  if (!isStorableKey(clientId)) return undefined;
  const row = await db<ClientColumns>('clients').where({ client_id: clientId }).first();
  if (!row) return undefined;
  const access = await db<ClientResourceColumns>('client_resources').where({ client_id: clientId });
  return fromColumns(row, access);
}

export async function listClients(db: Knex, options: { limit: number; name?: string }): Promise<ClientRow[]> {
  if (options.name && !isStorableKey(options.name)) return [];
  const query = db<ClientColumns>('clients').orderBy([{ column: 'created_at' }, { column: 'client_id' }]).limit(options.limit);
  if (options.name) query.whereILike('name', containsPattern(options.name));
  const rows = await query;
  if (rows.length === 0) return [];
  const access = await db<ClientResourceColumns>('client_resources').whereIn(
    'client_id',
    rows.map((row) => row.client_id),
  );
  return rows.map((row) => fromColumns(row, access));
}

export async function deleteClient(db: Knex, clientId: string): Promise<boolean> {
  if (!isStorableKey(clientId)) return false;
  // `returning` rather than the affected-row count, which PGlite's Knex dialect does not give for deletes.
  return (await db('clients').where({ client_id: clientId }).delete().returning('client_id')).length > 0;
}
