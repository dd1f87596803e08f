import type { Knex } from 'knex';
import { afterCreatedKey, createdKeyColumn, type CreatedKey } from './pagination.js';
import { containsPattern, isStorableKey } from './sql.js';

export type TokenEndpointAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/**
 * Client metadata as oidc-provider reads it (RFC 7591 names), without id and secret. A
 * dynamically registered client may carry further RFC 7591 fields the provider accepted.
 */
export interface ClientMetadata {
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  scope: string;
  cors_origins: string[];
  logo_uri?: string;
  client_uri?: string;
  policy_uri?: string;
  tos_uri?: string;
  jwks?: { keys: Array<Record<string, unknown>> };
  jwks_uri?: string;
  /** Seconds; override the configured defaults for this client's tokens. */
  access_token_ttl?: number;
  refresh_token_ttl?: number;
  /** OpenID Connect Back-Channel Logout: where logout tokens go, and whether they (and ID tokens) carry `sid`. */
  backchannel_logout_uri?: string;
  backchannel_logout_session_required?: boolean;
  /** RFC 9126, RFC 9449 and RFC 9101 requirements for this client; absent means off. */
  require_pushed_authorization_requests?: boolean;
  dpop_bound_access_tokens?: boolean;
  require_signed_request_object?: boolean;
  /** Seconds a just-rotated refresh token may be used again by this client; absent means the server default. */
  refresh_token_reuse_grace?: number;
  /** Every sign-in for this client needs a second factor (step-up, or enrolment first); absent means off. */
  require_mfa?: boolean;
  [extra: string]: unknown;
}

export interface ClientResourceAccess {
  identifier: string;
  scopes: string[];
}

export interface ClientRow {
  clientId: string;
  name: string;
  /** SHA-256 (base64url) of the secret; the secret itself is never stored. */
  clientSecretHash: string | null;
  previousSecretHash: string | null;
  previousSecretExpiresAt: Date | null;
  firstParty: boolean;
  adminAccess: boolean;
  registeredDynamically: boolean;
  metadata: ClientMetadata;
  resources: ClientResourceAccess[];
  createdAt: Date;
  updatedAt: Date;
}

interface ClientColumns {
  client_id: string;
  name: string;
  client_secret_hash: string | null;
  previous_secret_hash: string | null;
  previous_secret_expires_at: Date | string | null;
  first_party: boolean;
  admin_access: boolean;
  registered_dynamically: boolean;
  metadata: ClientMetadata | string;
  created_at: Date | string;
  updated_at: Date | string;
  page_created_at?: string;
}

interface ClientResourceColumns {
  client_id: string;
  resource_identifier: string;
  scopes: string[] | string;
}

export type NewClient = Omit<ClientRow, 'createdAt' | 'updatedAt'>;
export type ClientChanges = Partial<Omit<NewClient, 'clientId' | 'registeredDynamically'>>;

function json<T>(value: T | string): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

function fromColumns(row: ClientColumns, access: ClientResourceColumns[]): ClientRow {
  return {
    clientId: row.client_id,
    name: row.name,
    clientSecretHash: row.client_secret_hash,
    previousSecretHash: row.previous_secret_hash,
    previousSecretExpiresAt: row.previous_secret_expires_at === null ? null : new Date(row.previous_secret_expires_at),
    firstParty: row.first_party,
    adminAccess: row.admin_access,
    registeredDynamically: row.registered_dynamically,
    metadata: json(row.metadata),
    resources: access
      .filter((entry) => entry.client_id === row.client_id)
      .map((entry) => ({ identifier: entry.resource_identifier, scopes: json(entry.scopes) })),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

function toColumns(changes: ClientChanges): Record<string, unknown> {
  const columns: Record<string, unknown> = {};
  if (changes.name !== undefined) columns.name = changes.name;
  if (changes.clientSecretHash !== undefined) columns.client_secret_hash = changes.clientSecretHash;
  if (changes.previousSecretHash !== undefined) columns.previous_secret_hash = changes.previousSecretHash;
  if (changes.previousSecretExpiresAt !== undefined) columns.previous_secret_expires_at = changes.previousSecretExpiresAt;
  if (changes.firstParty !== undefined) columns.first_party = changes.firstParty;
  if (changes.adminAccess !== undefined) columns.admin_access = changes.adminAccess;
  if (changes.metadata !== undefined) columns.metadata = JSON.stringify(changes.metadata);
  return columns;
}

async function replaceResourceAccess(db: Knex, clientId: string, resources: ClientResourceAccess[]): Promise<void> {
  await db('client_resources').where({ client_id: clientId }).delete();
  if (resources.length === 0) return;
  await db('client_resources').insert(
    resources.map((entry) => ({ client_id: clientId, resource_identifier: entry.identifier, scopes: JSON.stringify(entry.scopes) })),
  );
}

export async function insertClient(db: Knex, client: NewClient): Promise<void> {
  await db('clients').insert({
    client_id: client.clientId,
    registered_dynamically: client.registeredDynamically,
    ...toColumns(client),
  });
  await replaceResourceAccess(db, client.clientId, client.resources);
}

/** Applies the changes given; `resources`, when given, replaces the whole list. */
export async function updateClient(db: Knex, clientId: string, changes: ClientChanges): Promise<boolean> {
  if (!isStorableKey(clientId)) return false;
  const updated = await db('clients')
    .where({ client_id: clientId })
    .update({ ...toColumns(changes), updated_at: db.fn.now() })
    .returning('client_id');
  if (updated.length === 0) return false;
  if (changes.resources) await replaceResourceAccess(db, clientId, changes.resources);
  return true;
}

export async function findClient(db: Knex, clientId: string): Promise<ClientRow | undefined> {
  if (!isStorableKey(clientId)) return undefined;
  const row = await db<ClientColumns>('clients').where({ client_id: clientId }).first();
  if (!row) return undefined;
  const access = await db<ClientResourceColumns>('client_resources').where({ client_id: clientId });
  return fromColumns(row, access);
}

export async function listClients(
  db: Knex,
  options: { limit: number; name?: string; after?: CreatedKey },
): Promise<Array<ClientRow & { key: CreatedKey }>> {
  if (options.name && !isStorableKey(options.name)) return [];
  const query = db<ClientColumns>('clients')
    .select('clients.*', createdKeyColumn(db, 'clients'))
    .orderBy([{ column: 'created_at' }, { column: 'client_id' }])
    .limit(options.limit);
  if (options.name) query.whereILike('name', containsPattern(options.name));
  afterCreatedKey(query, 'clients', 'client_id', options.after);
  const rows = (await query) as ClientColumns[];
  if (rows.length === 0) return [];
  const access = await db<ClientResourceColumns>('client_resources').whereIn(
    'client_id',
    rows.map((row) => row.client_id),
  );
  return rows.map((row) => ({ ...fromColumns(row, access), key: { createdAt: row.page_created_at!, id: row.client_id } }));
}

export async function deleteClient(db: Knex, clientId: string): Promise<boolean> {
  if (!isStorableKey(clientId)) return false;
  // `returning` rather than the affected-row count, which PGlite's Knex dialect does not give for deletes.
  return (await db('clients').where({ client_id: clientId }).delete().returning('client_id')).length > 0;
}
