import { z } from 'zod';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import {
  deleteProvider,
  findDomainOwner,
  findProvider,
  insertProvider,
  listProviders,
  lockProviders,
  updateProvider,
  type ProviderChanges,
  type UpstreamKind,
  type UpstreamProviderRow,
  type UpstreamSettings,
} from '../store/upstream-providers.js';
import { countProviderIdentities } from '../store/upstream-identities.js';
import { bumpChangeCounters } from '../store/change-counters.js';
import { now } from '../util/clock.js';
import { recordAudit, type Actor } from './audit.js';
import { displayName, parseInput } from './validation.js';

export const UPSTREAM_KINDS = ['oidc', 'google', 'microsoft', 'github'] as const satisfies readonly UpstreamKind[];

const GOOGLE_ISSUER = 'https://accounts.google.com';
const GITHUB_WEB = 'https://github.com';
const GITHUB_API = 'https://api.github.com';

/** What each kind asks for unless the admin says otherwise. */
const DEFAULT_SCOPES: Record<UpstreamKind, string[]> = {
  oidc: ['openid', 'email', 'profile'],
  google: ['openid', 'email', 'profile'],
  microsoft: ['openid', 'email', 'profile'],
  // GitHub's addresses, with whether each is verified, come from /user/emails.
  github: ['read:user', 'user:email'],
};

// Multi-tenant endpoints answer with each user's own tenant as issuer: ID tokens could not be checked.
const SHARED_TENANTS = ['common', 'organizations', 'consumers'];

const noControl = (value: string) => !/[\u0000-\u001f\u007f]/.test(value);

const slug = z
  .string({ message: 'is required' })
  .trim()
  .min(1, { message: 'is required' })
  .max(40, { message: 'is too long' })
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, { message: 'must be lowercase letters, digits and dashes, such as google or corp-sso' });

const httpUrl = z
  .string({ message: 'is required' })
  .trim()
  .max(2000, { message: 'is too long' })
  .refine(noControl, { message: 'must not contain control characters' })
  .refine((value) => URL.canParse(value) && ['http:', 'https:'].includes(new URL(value).protocol), { message: 'must be an http or https URL' })
  // Kept exactly as given: the issuer is compared with the discovery document's and the ID token's as written.
  .refine((value) => !URL.canParse(value) || (!new URL(value).search && !new URL(value).hash && !new URL(value).username), {
    message: 'must not have a query, fragment or user name',
  });

const clientId = z
  .string({ message: 'is required' })
  .trim()
  .min(1, { message: 'is required' })
  .max(500, { message: 'is too long' })
  .refine(noControl, { message: 'must not contain control characters' });

const clientSecret = z
  .string({ message: 'is required' })
  .min(1, { message: 'is required' })
  .max(2000, { message: 'is too long' })
  .refine(noControl, { message: 'must not contain control characters' });

const scopes = z
  .union([z.string(), z.array(z.string())], { message: 'must be scopes, space-separated or a list' })
  .transform((value) => [...new Set((Array.isArray(value) ? value : [value]).flatMap((part) => part.split(/[\s,]+/)).filter(Boolean))])
  .refine((value) => value.length <= 50, { message: 'has too many entries' })
  .refine((value) => value.every((scope) => /^[\x21\x23-\x5b\x5d-\x7e]{1,200}$/.test(scope)), { message: 'must be scope names without quotes or backslashes' });

const domains = z
  .union([z.string(), z.array(z.string())], { message: 'must be email domains, comma-separated or a list' })
  .transform((value) => [...new Set((Array.isArray(value) ? value : [value]).flatMap((part) => part.split(/[\s,]+/)).map((part) => part.trim().toLowerCase().replace(/^@/, '')).filter(Boolean))].sort())
  .refine((value) => value.length <= 100, { message: 'has too many entries' })
  .refine((value) => value.every((domain) => domain.length <= 253 && /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(domain)), {
    message: 'must be domain names such as corp.example',
  });

const tenant = z
  .string({ message: 'is required' })
  .trim()
  .min(1, { message: 'is required' })
  .max(100, { message: 'is too long' })
  .regex(/^[A-Za-z0-9.-]+$/, { message: 'must be a directory (tenant) id or domain, such as contoso.onmicrosoft.com' })
  .refine((value) => !SHARED_TENANTS.includes(value.toLowerCase()), {
    message: 'must be your own directory (tenant) id or domain: common, organizations and consumers cannot be checked',
  });

const enabled = z.boolean({ message: 'must be true or false' });

const createInput = z.object({
  id: slug,
  kind: z.enum(UPSTREAM_KINDS, { message: `must be one of ${UPSTREAM_KINDS.join(', ')}` }),
  name: displayName(100).optional(),
  issuer: httpUrl.optional(),
  clientId,
  clientSecret,
  scopes: scopes.optional(),
  emailDomains: domains.default([]),
  tenant: tenant.optional(),
  githubUrl: httpUrl.optional(),
  githubApiUrl: httpUrl.optional(),
  enabled: enabled.default(true),
});

const updateInput = z
  .object({
    name: displayName(100).optional(),
    issuer: httpUrl.optional(),
    clientId: clientId.optional(),
    clientSecret: clientSecret.optional(),
    scopes: scopes.optional(),
    emailDomains: domains.optional(),
    tenant: tenant.optional(),
    githubUrl: httpUrl.optional(),
    githubApiUrl: httpUrl.optional(),
    enabled: enabled.optional(),
  })
  .strict();

export type CreateUpstreamProviderInput = z.input<typeof createInput>;
export type UpdateUpstreamProviderInput = z.input<typeof updateInput>;

function invalid(field: string, message: string): LatchkeyError {
  return new LatchkeyError('input.invalid', `${field}: ${message}`, { details: { [field]: message } });
}

function notFound(id: string): LatchkeyError {
  return new LatchkeyError('upstream_provider.not_found', `no upstream provider with id ${id}`);
}

/** The client secret is bound to its provider: a sealed value copied to another row does not open. */
function secretContext(providerId: string): string {
  return `upstream_client_secret:${providerId}`;
}

export function openClientSecret(deps: Deps, provider: UpstreamProviderRow): string | undefined {
  return provider.sealedClientSecret === null ? undefined : deps.sealer.open(provider.sealedClientSecret, secretContext(provider.id));
}

/** The address the admin registers upstream: where the browser comes back with the code. */
export function upstreamRedirectUri(deps: Pick<Deps, 'config'>, providerId: string): string {
  return `${deps.config.http.issuer}/upstream/${encodeURIComponent(providerId)}/callback`;
}

export function microsoftIssuer(tenantId: string): string {
  return `https://login.microsoftonline.com/${tenantId}/v2.0`;
}

const PRESET_NAMES: Record<UpstreamKind, string | null> = { oidc: null, google: 'Google', microsoft: 'Microsoft', github: 'GitHub' };

/** Which fields belong to which kind: a setting that means nothing for the kind is refused, not ignored. */
function assertFieldsFit(kind: UpstreamKind, fields: { issuer?: string | undefined; tenant?: string | undefined; githubUrl?: string | undefined; githubApiUrl?: string | undefined }): void {
  if (kind !== 'oidc' && fields.issuer !== undefined) throw invalid('issuer', 'is set by the preset: choose OpenID Connect for another issuer');
  if (kind !== 'microsoft' && fields.tenant !== undefined) throw invalid('tenant', 'applies to Microsoft only');
  if (kind !== 'github' && fields.githubUrl !== undefined) throw invalid('githubUrl', 'applies to GitHub only');
  if (kind !== 'github' && fields.githubApiUrl !== undefined) throw invalid('githubApiUrl', 'applies to GitHub only');
}

/** Production talks to upstreams over https only: the code and the client secret cross this connection. */
function assertSecureUrls(deps: Deps, urls: Array<[string, string | null | undefined]>): void {
  if (deps.config.env !== 'production') return;
  for (const [field, value] of urls) {
    if (value && new URL(value).protocol !== 'https:') throw invalid(field, 'must be an https URL in production');
  }
}

function assertScopesFit(kind: UpstreamKind, value: string[]): void {
  if (value.length === 0) throw invalid('scopes', 'must name at least one scope');
  if (kind !== 'github' && !value.includes('openid')) throw invalid('scopes', 'must include openid: the sign-in rests on the ID token');
}

async function assertDomainsFree(trx: Parameters<typeof findDomainOwner>[0], emailDomains: string[], providerId: string | null): Promise<void> {
  await lockProviders(trx);
  const owner = await findDomainOwner(trx, emailDomains, providerId);
  if (owner) {
    const taken = emailDomains.filter((domain) => owner.emailDomains.includes(domain));
    throw new LatchkeyError('upstream_provider.domain_taken', `emailDomains: ${taken.join(', ')} already goes to ${owner.id}`, {
      details: { emailDomains: `${taken.join(', ')} already goes to the provider ${owner.id}` },
    });
  }
}

export async function createUpstreamProvider(deps: Deps, actor: Actor, input: CreateUpstreamProviderInput): Promise<UpstreamProviderRow> {
  const parsed = parseInput(createInput, input);
  assertFieldsFit(parsed.kind, parsed);
  const issuer = issuerFor(parsed.kind, parsed.issuer, parsed.tenant);
  const settings: UpstreamSettings =
    parsed.kind === 'microsoft' ? { tenant: parsed.tenant! } : parsed.kind === 'github' ? { webUrl: parsed.githubUrl ?? GITHUB_WEB, apiUrl: parsed.githubApiUrl ?? GITHUB_API } : {};
  const scopeList = parsed.scopes ?? DEFAULT_SCOPES[parsed.kind];
  assertScopesFit(parsed.kind, scopeList);
  assertSecureUrls(deps, [['issuer', parsed.issuer], ['githubUrl', parsed.githubUrl], ['githubApiUrl', parsed.githubApiUrl]]);
  const name = parsed.name ?? PRESET_NAMES[parsed.kind];
  if (name === null) throw invalid('name', 'is required: the login page shows it on the button');
  const created = await deps.db.knex.transaction(async (trx) => {
    await assertDomainsFree(trx, parsed.emailDomains, null);
    if (await findProvider(trx, parsed.id)) {
      throw new LatchkeyError('upstream_provider.exists', `id: ${parsed.id} is taken`, { details: { id: 'is already taken' } });
    }
    const provider = await insertProvider(trx, {
      id: parsed.id,
      kind: parsed.kind,
      displayName: name,
      issuer,
      clientId: parsed.clientId,
      sealedClientSecret: deps.sealer.seal(parsed.clientSecret, secretContext(parsed.id)),
      scopes: scopeList,
      emailDomains: parsed.emailDomains,
      settings,
      enabled: parsed.enabled,
    });
    await recordAudit(trx, actor, {
      type: 'upstream_provider.created',
      subject: { type: 'upstream_provider', id: provider.id },
      details: { kind: provider.kind, issuer: provider.issuer, email_domains: provider.emailDomains, enabled: provider.enabled },
    });
    await bumpChangeCounters(trx, 'upstream_providers');
    return provider;
  });
  deps.catalog.invalidate('upstream_providers');
  return created;
}

function issuerFor(kind: UpstreamKind, issuer: string | undefined, tenantId: string | undefined): string | null {
  switch (kind) {
    case 'oidc':
      if (issuer === undefined) throw invalid('issuer', 'is required for an OpenID Connect provider');
      return issuer;
    case 'google':
      return GOOGLE_ISSUER;
    case 'microsoft':
      if (tenantId === undefined) throw invalid('tenant', 'is required for Microsoft: your directory (tenant) id or domain');
      return microsoftIssuer(tenantId);
    case 'github':
      return null;
  }
}

export async function getUpstreamProvider(deps: Deps, id: string): Promise<UpstreamProviderRow> {
  const provider = await findProvider(deps.db.knex, id);
  if (!provider) throw notFound(id);
  return provider;
}

export async function listUpstreamProviders(deps: Deps): Promise<UpstreamProviderRow[]> {
  return listProviders(deps.db.knex);
}

/** The providers the login page offers: from memory, as every login page and sign-in reads them. */
export async function enabledUpstreamProviders(deps: Deps): Promise<UpstreamProviderRow[]> {
  return deps.catalog.upstreamProviders();
}

/** Home-realm discovery: the enabled provider an address's domain goes to, if any. */
export async function homeRealmOf(deps: Deps, email: string): Promise<UpstreamProviderRow | undefined> {
  const at = email.lastIndexOf('@');
  if (at < 0) return undefined;
  const domain = email.slice(at + 1).trim().toLowerCase();
  if (!domain) return undefined;
  return (await enabledUpstreamProviders(deps)).find((provider) => provider.emailDomains.includes(domain));
}

const CHANGE_NAMES: Array<[keyof ProviderChanges, string]> = [
  ['displayName', 'name'],
  ['issuer', 'issuer'],
  ['clientId', 'client_id'],
  ['sealedClientSecret', 'client_secret'],
  ['scopes', 'scopes'],
  ['emailDomains', 'email_domains'],
  ['settings', 'settings'],
  ['enabled', 'enabled'],
];

export async function updateUpstreamProvider(deps: Deps, actor: Actor, id: string, input: UpdateUpstreamProviderInput): Promise<UpstreamProviderRow> {
  const parsed = parseInput(updateInput, input);
  const result = await deps.db.knex.transaction(async (trx) => {
    const current = await findProvider(trx, id, { forUpdate: true });
    if (!current) throw notFound(id);
    assertFieldsFit(current.kind, parsed);
    assertSecureUrls(deps, [['issuer', parsed.issuer], ['githubUrl', parsed.githubUrl], ['githubApiUrl', parsed.githubApiUrl]]);
    const changes: ProviderChanges = {};
    if (parsed.name !== undefined && parsed.name !== current.displayName) changes.displayName = parsed.name;
    if (parsed.issuer !== undefined && parsed.issuer !== current.issuer) changes.issuer = parsed.issuer;
    if (parsed.clientId !== undefined && parsed.clientId !== current.clientId) changes.clientId = parsed.clientId;
    if (parsed.clientSecret !== undefined) changes.sealedClientSecret = deps.sealer.seal(parsed.clientSecret, secretContext(id));
    if (parsed.scopes !== undefined && parsed.scopes.join(' ') !== current.scopes.join(' ')) {
      assertScopesFit(current.kind, parsed.scopes);
      changes.scopes = parsed.scopes;
    }
    if (parsed.emailDomains !== undefined && parsed.emailDomains.join(' ') !== current.emailDomains.join(' ')) {
      await assertDomainsFree(trx, parsed.emailDomains, id);
      changes.emailDomains = parsed.emailDomains;
    }
    if (parsed.tenant !== undefined && parsed.tenant !== current.settings.tenant) {
      changes.settings = { tenant: parsed.tenant };
      changes.issuer = microsoftIssuer(parsed.tenant);
    }
    if ((parsed.githubUrl !== undefined && parsed.githubUrl !== current.settings.webUrl) || (parsed.githubApiUrl !== undefined && parsed.githubApiUrl !== current.settings.apiUrl)) {
      changes.settings = { webUrl: parsed.githubUrl ?? current.settings.webUrl ?? GITHUB_WEB, apiUrl: parsed.githubApiUrl ?? current.settings.apiUrl ?? GITHUB_API };
    }
    if (parsed.enabled !== undefined && parsed.enabled !== current.enabled) changes.enabled = parsed.enabled;
    // Identities are keyed by this provider and the upstream's subject. Another issuer, tenant or
    // GitHub server numbers its users its own way: its user 42 would open the account linked to
    // the old one's user 42.
    if ((changes.issuer !== undefined || changes.settings !== undefined) && (await countProviderIdentities(trx, id)) > 0) {
      const field = current.kind === 'github' ? 'githubUrl' : current.kind === 'microsoft' ? 'tenant' : 'issuer';
      throw invalid(field, 'cannot change while accounts are linked through this provider: add a new provider for the other server instead');
    }
    // Nothing changed (a form saved as it was): no new updated_at, no audit row.
    if (Object.keys(changes).length === 0) return current;
    const updated = (await updateProvider(trx, id, changes, now()))!;
    await recordAudit(trx, actor, {
      type: 'upstream_provider.updated',
      subject: { type: 'upstream_provider', id },
      details: { changed: CHANGE_NAMES.filter(([field]) => field in changes).map(([, name]) => name) },
    });
    await bumpChangeCounters(trx, 'upstream_providers');
    return updated;
  });
  deps.catalog.invalidate('upstream_providers');
  return result;
}

/** Deletes the provider with the identities linked through it; sign-ins under way through it fail. */
export async function deleteUpstreamProvider(deps: Deps, actor: Actor, id: string): Promise<void> {
  await deps.db.knex.transaction(async (trx) => {
    const deleted = await deleteProvider(trx, id);
    if (!deleted) throw notFound(id);
    await recordAudit(trx, actor, { type: 'upstream_provider.deleted', subject: { type: 'upstream_provider', id }, details: { kind: deleted.kind } });
    await bumpChangeCounters(trx, 'upstream_providers');
  });
  deps.catalog.invalidate('upstream_providers');
}
