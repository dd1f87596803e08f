import type { Knex } from 'knex';
import { isStorableKey } from './sql.js';

export type UpstreamKind = 'oidc' | 'google' | 'microsoft' | 'github';

/** What a preset needs besides the common fields: a Microsoft tenant, GitHub (Enterprise) addresses. */
export interface UpstreamSettings {
  tenant?: string;
  /** GitHub's web address (authorize, token), https://github.com unless GitHub Enterprise. */
  webUrl?: string;
  /** GitHub's API address, https://api.github.com unless GitHub Enterprise. */
  apiUrl?: string;
}

export interface UpstreamProviderRow {
  id: string;
  kind: UpstreamKind;
  displayName: string;
  /** The OpenID Connect issuer; null for GitHub, which is plain OAuth 2.0. */
  issuer: string | null;
  clientId: string;
  /** Sealed under the master key, bound to the provider id; never shown. */
  sealedClientSecret: string | null;
  scopes: string[];
  emailDomains: string[];
  settings: UpstreamSettings;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

interface ProviderColumns {
  id: string;
  kind: UpstreamKind;
  display_name: string;
  issuer: string | null;
  client_id: string;
  client_secret_sealed: string | null;
  scopes: string[];
  email_domains: string[];
  settings: UpstreamSettings | string;
  enabled: boolean;
  created_at: Date | string;
  updated_at: Date | string;
}

export type ProviderChanges = Partial<Pick<UpstreamProviderRow, 'displayName' | 'issuer' | 'clientId' | 'sealedClientSecret' | 'scopes' | 'emailDomains' | 'settings' | 'enabled'>>;

function fromColumns(row: ProviderColumns): UpstreamProviderRow {
  return {
    id: row.id,
    kind: row.kind,
    displayName: row.display_name,
    issuer: row.issuer,
    clientId: row.client_id,
    sealedClientSecret: row.client_secret_sealed,
    scopes: row.scopes,
    emailDomains: row.email_domains,
    settings: typeof row.settings === 'string' ? (JSON.parse(row.settings) as UpstreamSettings) : row.settings,
    enabled: row.enabled,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

function toColumns(changes: ProviderChanges): Record<string, unknown> {
  const columns: Record<string, unknown> = {};
  if (changes.displayName !== undefined) columns.display_name = changes.displayName;
  if (changes.issuer !== undefined) columns.issuer = changes.issuer;
  if (changes.clientId !== undefined) columns.client_id = changes.clientId;
  if (changes.sealedClientSecret !== undefined) columns.client_secret_sealed = changes.sealedClientSecret;
  if (changes.scopes !== undefined) columns.scopes = changes.scopes;
  if (changes.emailDomains !== undefined) columns.email_domains = changes.emailDomains;
  if (changes.settings !== undefined) columns.settings = JSON.stringify(changes.settings);
  if (changes.enabled !== undefined) columns.enabled = changes.enabled;
  return columns;
}

export async function insertProvider(db: Knex, provider: Omit<UpstreamProviderRow, 'createdAt' | 'updatedAt'>): Promise<UpstreamProviderRow> {
  const [row] = (await db('upstream_providers')
    .insert({ id: provider.id, kind: provider.kind, ...toColumns(provider) })
    .returning('*')) as ProviderColumns[];
  return fromColumns(row!);
}

export async function findProvider(db: Knex, id: string, options: { forUpdate?: boolean } = {}): Promise<UpstreamProviderRow | undefined> {
  if (!isStorableKey(id)) return undefined;
  const query = db('upstream_providers').where({ id }).first();
  if (options.forUpdate) query.forUpdate();
  const row = (await query) as ProviderColumns | undefined;
  return row ? fromColumns(row) : undefined;
}

/** Every provider, by name: there are a handful at most. */
export async function listProviders(db: Knex, options: { enabledOnly?: boolean } = {}): Promise<UpstreamProviderRow[]> {
  const query = db('upstream_providers').orderBy([{ column: 'display_name' }, { column: 'id' }]);
  if (options.enabledOnly) query.where({ enabled: true });
  return ((await query) as ProviderColumns[]).map(fromColumns);
}

/** The provider another than `exceptId` that claims one of `domains`, if any. */
export async function findDomainOwner(db: Knex, domains: string[], exceptId: string | null): Promise<UpstreamProviderRow | undefined> {
  if (domains.length === 0) return undefined;
  const query = db('upstream_providers').whereRaw('email_domains && ?::text[]', [domains]).first();
  if (exceptId !== null) query.whereNot({ id: exceptId });
  const row = (await query) as ProviderColumns | undefined;
  return row ? fromColumns(row) : undefined;
}

export async function updateProvider(db: Knex, id: string, changes: ProviderChanges, at: Date): Promise<UpstreamProviderRow | undefined> {
  const [row] = (await db('upstream_providers')
    .where({ id })
    .update({ ...toColumns(changes), updated_at: at })
    .returning('*')) as ProviderColumns[];
  return row ? fromColumns(row) : undefined;
}

export async function deleteProvider(db: Knex, id: string): Promise<UpstreamProviderRow | undefined> {
  if (!isStorableKey(id)) return undefined;
  const [row] = (await db('upstream_providers').where({ id }).delete().returning('*')) as ProviderColumns[];
  return row ? fromColumns(row) : undefined;
}

/**
 * Serialises changes to the providers' email domains, so two admins cannot map one domain to
 * two providers at the same moment.
 */
export async function lockProviders(db: Knex): Promise<void> {
  await db.raw('LOCK TABLE upstream_providers IN SHARE ROW EXCLUSIVE MODE');
}
