import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Environment } from '../config.js';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { bumpChangeCounters } from '../store/change-counters.js';
import {
  deleteClient as deleteClientRow,
  findClient,
  insertClient,
  listClients as selectClients,
  updateClient as updateClientRow,
  type ClientMetadata,
  type ClientResourceAccess,
  type ClientRow,
  type TokenEndpointAuthMethod,
} from '../store/clients.js';
import { deletePayloadsByClientId } from '../store/oidc-payloads.js';
import { findResources } from '../store/resources.js';
import { now } from '../util/clock.js';
import { matchesDigest, sha256 } from '../util/digest.js';
import { ADMIN_SCOPE, adminResourceIdentifier } from './admin-access.js';
import { recordAudit, type Actor } from './audit.js';
import { emitEvent } from './events/emit.js';
import { clientData } from './events/catalog.js';
import { isCreatedKey, keysetPage, type Page, type PageRequest } from './pagination.js';
import { insertResourceRow, resourceIdentifier } from './resources.js';
import { isOidcScope, isScopeToken, splitScopes } from './scopes.js';
import { isLoopbackHost, isOrigin, isRedirectUri } from './uris.js';
import { displayName, parseInput } from './validation.js';

/** RFC 8628: a device without a browser (a CLI, a TV) has the user sign in on another one. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8693: a service exchanges a user's access token for one for another API (domain/token-exchange.ts). */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export const SECRET_AUTH_METHODS = ['client_secret_basic', 'client_secret_post'] as const;
export const CONFIDENTIAL_AUTH_METHODS = [...SECRET_AUTH_METHODS, 'private_key_jwt'] as const;

const MAX_ACCESS_TOKEN_TTL = 86_400;
const MAX_REFRESH_TOKEN_TTL = 365 * 86_400;
const MAX_SECRET_GRACE = 30 * 86_400;
/** How long a just-rotated refresh token may be used again (concurrent tabs, retried requests). */
export const MAX_REFRESH_REUSE_GRACE = 300;

const uriList = (check: (value: string) => boolean, message: string) =>
  z.array(z.string().refine(check, { message })).default([]).transform((list) => [...new Set(list)]);

const pageUri = z.string().refine(isRedirectUri, { message: 'must be an absolute http(s) URL' });
const seconds = (min: number, max: number, what: string) =>
  z
    .number({ message: 'must be a number of seconds' })
    .int({ message: 'must be whole seconds' })
    .min(min, { message: `must be at least ${min} seconds` })
    .max(max, { message: `must be at most ${what}` });

const jwks = z.object(
  { keys: z.array(z.record(z.string(), z.unknown())).min(1, { message: 'must hold at least one key' }) },
  { message: 'must be a JWK Set ({"keys": [...]})' },
);

/**
 * Latchkey posts logout tokens to this URL itself, so it must be https; outside production it
 * may also be http to this machine, for an application being developed or tested there.
 */
export function isBackchannelLogoutUri(value: unknown, env: Environment): boolean {
  if (typeof value !== 'string' || !isRedirectUri(value)) return false;
  const url = new URL(value);
  return url.protocol === 'https:' || (env !== 'production' && isLoopbackHost(url.hostname));
}

export function backchannelLogoutUriRule(env: Environment): string {
  return env === 'production'
    ? 'must be an https URL without a fragment'
    : 'must be an https URL (or http on localhost, 127.0.0.1 or [::1]) without a fragment';
}

/**
 * Every setting of a client, as admins give them (camelCase); the same rules apply on create and
 * update. Which back-channel logout URIs are accepted depends on the environment.
 */
const clientSettings = (env: Environment) =>
  z
    .object({
      name: displayName(200),
      redirectUris: uriList(isRedirectUri, 'must be an absolute http(s) URL without a fragment'),
      postLogoutRedirectUris: uriList(isRedirectUri, 'must be an absolute http(s) URL without a fragment'),
      public: z.boolean().default(false),
      tokenEndpointAuthMethod: z
        .enum(CONFIDENTIAL_AUTH_METHODS, { message: `must be one of ${CONFIDENTIAL_AUTH_METHODS.join(', ')}` })
        .optional(),
      grantTypes: z
        .array(z.enum(GRANT_TYPES, { message: `must be one of ${GRANT_TYPES.join(', ')}` }))
        .min(1, { message: 'must name at least one grant type' })
        .default(['authorization_code', 'refresh_token'])
        .transform((list) => [...new Set(list)]),
      scope: z
        .union([z.string(), z.array(z.string())])
        .transform((value) => splitScopes(value))
        .refine((scopes) => scopes.every(isScopeToken), { message: 'contains an invalid scope' })
        .optional(),
      resources: z.array(resourceIdentifier).default([]).transform((list) => [...new Set(list)]),
      corsOrigins: uriList(isOrigin, 'must be an origin such as https://app.example'),
      firstParty: z.boolean().default(false),
      adminAccess: z.boolean().default(false),
      logoUri: pageUri.optional(),
      clientUri: pageUri.optional(),
      policyUri: pageUri.optional(),
      tosUri: pageUri.optional(),
      accessTokenTtl: seconds(1, MAX_ACCESS_TOKEN_TTL, 'a day').optional(),
      refreshTokenTtl: seconds(60, MAX_REFRESH_TOKEN_TTL, '365 days').optional(),
      jwks: jwks.optional(),
      jwksUri: z.string().refine((value) => isRedirectUri(value) && value.startsWith('https://'), { message: 'must be an https URL' }).optional(),
      backchannelLogoutUri: z.string().refine((value) => isBackchannelLogoutUri(value, env), { message: backchannelLogoutUriRule(env) }).optional(),
      backchannelLogoutSessionRequired: z.boolean().optional(),
      requirePushedAuthorizationRequests: z.boolean().optional(),
      dpopBoundAccessTokens: z.boolean().optional(),
      requireSignedRequestObject: z.boolean().optional(),
      refreshTokenReuseGrace: seconds(0, MAX_REFRESH_REUSE_GRACE, '5 minutes').optional(),
      requireMfa: z.boolean().optional(),
    })
    .superRefine((input, ctx) => {
      const grants = new Set<string>(input.grantTypes);
      // Both sign a user in; only authorization_code sends a browser back to a redirect URI.
      const signsIn = grants.has('authorization_code') || grants.has(DEVICE_CODE_GRANT);
      const issue = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: [field], message });
      if (input.public && grants.has('client_credentials')) {
        issue('grantTypes', 'client_credentials needs a confidential client; a public client has no secret to authenticate with');
      }
      if (input.public && grants.has(TOKEN_EXCHANGE_GRANT)) {
        issue('grantTypes', 'token exchange needs a confidential client; a public client cannot authenticate');
      }
      if (input.public && input.tokenEndpointAuthMethod) issue('tokenEndpointAuthMethod', 'does not apply to a public client');
      if (grants.has('refresh_token') && !signsIn) issue('grantTypes', 'refresh_token needs authorization_code or the device code grant');
      if (grants.has('authorization_code') && input.redirectUris.length === 0) {
        issue('redirectUris', 'needs at least one redirect URI for authorization_code');
      }
      // The provider reads an empty scope list as "any scope", so a sign-in client always lists its OIDC scopes.
      if (signsIn && input.scope && !input.scope.includes('openid')) {
        issue('scope', 'must include openid for a client that signs users in (authorization_code or device code)');
      }
      if (!grants.has('authorization_code') && input.redirectUris.length > 0) {
        issue('redirectUris', 'only apply to clients with the authorization_code grant');
      }
      if (!grants.has('authorization_code') && input.postLogoutRedirectUris.length > 0) {
        issue('postLogoutRedirectUris', 'only apply to clients with the authorization_code grant');
      }
      if (!grants.has('refresh_token') && input.refreshTokenTtl !== undefined) issue('refreshTokenTtl', 'only applies to clients with the refresh_token grant');
      const keyBased = input.tokenEndpointAuthMethod === 'private_key_jwt';
      if (keyBased && !input.jwks === !input.jwksUri) issue('jwks', 'private_key_jwt needs exactly one of jwks or jwks_uri');
      if (!keyBased && (input.jwks || input.jwksUri)) issue(input.jwks ? 'jwks' : 'jwksUri', 'only applies to private_key_jwt clients');
      // Only a client that signs users in has sessions to be told about.
      if (!grants.has('authorization_code') && input.backchannelLogoutUri) {
        issue('backchannelLogoutUri', 'only applies to clients with the authorization_code grant');
      }
      if (input.backchannelLogoutSessionRequired && !input.backchannelLogoutUri) issue('backchannelLogoutSessionRequired', 'needs a back-channel logout URI');
      // RFC 9126 pushes authorization requests: only a client that sends browsers to /auth makes them.
      if (input.requirePushedAuthorizationRequests && !grants.has('authorization_code')) {
        issue('requirePushedAuthorizationRequests', 'only applies to clients with the authorization_code grant');
      }
      // RFC 9101: a request object is checked with the client's own public keys.
      if (input.requireSignedRequestObject && !input.jwks && !input.jwksUri) {
        issue('requireSignedRequestObject', 'needs the public keys of the client (jwks or jwks_uri) to check its request objects');
      }
      if (!grants.has('refresh_token') && input.refreshTokenReuseGrace !== undefined) issue('refreshTokenReuseGrace', 'only applies to clients with the refresh_token grant');
      // Only a sign-in has factors to ask for.
      if (input.requireMfa && !signsIn) issue('requireMfa', 'only applies to clients that sign users in (authorization_code or device code)');
    });

export type CreateClientInput = z.input<ReturnType<typeof clientSettings>>;
type ClientSettings = z.output<ReturnType<typeof clientSettings>>;

const nullable = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

/** What an update may change: any setting but `public`; null clears an optional one. */
const clientChanges = z
  .object({
    name: displayName(200).optional(),
    redirectUris: z.array(z.string()).optional(),
    postLogoutRedirectUris: z.array(z.string()).optional(),
    tokenEndpointAuthMethod: z.string().optional(),
    grantTypes: z.array(z.string()).optional(),
    scope: z.union([z.string(), z.array(z.string())]).optional(),
    resources: z.array(z.string()).optional(),
    corsOrigins: z.array(z.string()).optional(),
    firstParty: z.boolean().optional(),
    adminAccess: z.boolean().optional(),
    logoUri: nullable(z.string()),
    clientUri: nullable(z.string()),
    policyUri: nullable(z.string()),
    tosUri: nullable(z.string()),
    accessTokenTtl: nullable(z.number()),
    refreshTokenTtl: nullable(z.number()),
    jwks: nullable(z.unknown()),
    jwksUri: nullable(z.string()),
    backchannelLogoutUri: nullable(z.string()),
    backchannelLogoutSessionRequired: z.boolean().optional(),
    requirePushedAuthorizationRequests: z.boolean().optional(),
    dpopBoundAccessTokens: z.boolean().optional(),
    requireSignedRequestObject: z.boolean().optional(),
    refreshTokenReuseGrace: nullable(z.number()),
    requireMfa: z.boolean().optional(),
  })
  .strict();

export type UpdateClientInput = z.input<typeof clientChanges>;

export interface ClientWithSecret {
  client: ClientRow;
  /** Shown once; only clients that authenticate with a secret have one. */
  clientSecret: string | undefined;
}

/** base64url, but never starting with `-` or `_`, which command lines would read as a flag. */
export function newClientId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}

function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

function clientNotFound(clientId: string): LatchkeyError {
  return new LatchkeyError('client.not_found', `no client with id ${clientId}`);
}

function defaultOidcScopes(grants: Set<string>): string[] {
  if (!grants.has('authorization_code') && !grants.has(DEVICE_CODE_GRANT)) return [];
  return ['openid', 'profile', 'email', ...(grants.has('refresh_token') ? ['offline_access'] : [])];
}

/** The settings a stored client has, in the shape admins give them. */
function settingsOf(client: ClientRow): CreateClientInput {
  const m = client.metadata;
  const isPublic = m.token_endpoint_auth_method === 'none';
  return {
    name: client.name,
    redirectUris: m.redirect_uris,
    postLogoutRedirectUris: m.post_logout_redirect_uris,
    public: isPublic,
    ...(isPublic ? {} : { tokenEndpointAuthMethod: m.token_endpoint_auth_method as (typeof CONFIDENTIAL_AUTH_METHODS)[number] }),
    grantTypes: m.grant_types as GrantType[],
    scope: m.scope,
    resources: client.resources.map((entry) => entry.identifier),
    corsOrigins: m.cors_origins,
    firstParty: client.firstParty,
    adminAccess: client.adminAccess,
    ...(m.logo_uri !== undefined ? { logoUri: m.logo_uri } : {}),
    ...(m.client_uri !== undefined ? { clientUri: m.client_uri } : {}),
    ...(m.policy_uri !== undefined ? { policyUri: m.policy_uri } : {}),
    ...(m.tos_uri !== undefined ? { tosUri: m.tos_uri } : {}),
    ...(m.access_token_ttl !== undefined ? { accessTokenTtl: m.access_token_ttl } : {}),
    ...(m.refresh_token_ttl !== undefined ? { refreshTokenTtl: m.refresh_token_ttl } : {}),
    ...(m.jwks !== undefined ? { jwks: m.jwks } : {}),
    ...(m.jwks_uri !== undefined ? { jwksUri: m.jwks_uri } : {}),
    ...(m.backchannel_logout_uri !== undefined ? { backchannelLogoutUri: m.backchannel_logout_uri } : {}),
    ...(m.backchannel_logout_session_required !== undefined ? { backchannelLogoutSessionRequired: m.backchannel_logout_session_required } : {}),
    ...(m.require_pushed_authorization_requests ? { requirePushedAuthorizationRequests: true } : {}),
    ...(m.dpop_bound_access_tokens ? { dpopBoundAccessTokens: true } : {}),
    ...(m.require_signed_request_object ? { requireSignedRequestObject: true } : {}),
    ...(m.refresh_token_reuse_grace !== undefined ? { refreshTokenReuseGrace: m.refresh_token_reuse_grace } : {}),
    ...(m.require_mfa ? { requireMfa: true } : {}),
  };
}

/**
 * Which APIs the client may ask for, and for which scopes. `requested` are the API scopes the
 * admin named (undefined: not named); `current` is what an existing client already has, kept
 * for the resources it keeps. A resource not registered yet is registered with the scopes asked for.
 */
async function resolveResourceAccess(
  deps: Deps,
  trx: Knex,
  identifiers: string[],
  requested: string[] | undefined,
  current: Map<string, string[]>,
): Promise<ClientResourceAccess[]> {
  if (identifiers.includes(adminResourceIdentifier(deps.config))) {
    throw new LatchkeyError('input.invalid', 'the admin API is not granted as a resource: use admin access', {
      details: { resources: 'names the admin API; give the client admin access instead' },
    });
  }
  if (requested?.includes(ADMIN_SCOPE)) {
    throw new LatchkeyError('input.invalid', `${ADMIN_SCOPE} is granted with admin access, not as a scope`, {
      details: { scope: `${ADMIN_SCOPE} comes with admin access, not from the scope list` },
    });
  }
  const existing = new Map((await findResources(trx, identifiers)).map((resource) => [resource.identifier, resource]));
  const access: ClientResourceAccess[] = [];
  for (const identifier of identifiers) {
    const resource = existing.get(identifier);
    if (resource) {
      const wanted = requested ?? current.get(identifier) ?? resource.scopes;
      access.push({ identifier, scopes: resource.scopes.filter((scope) => wanted.includes(scope)) });
      continue;
    }
    if (!requested || requested.length === 0) {
      throw new LatchkeyError('input.invalid', `resource ${identifier} is not registered yet: give its scopes with the scope list`, {
        details: { scope: `names no scope for the new resource ${identifier}` },
      });
    }
    // A new API is registered with the defaults: JWT access tokens and the scopes asked for.
    await insertResourceRow(trx, { identifier, scopes: requested, accessTokenFormat: 'jwt', accessTokenTtl: null, introspectionClientId: null });
    access.push({ identifier, scopes: requested });
  }
  if (requested) {
    const granted = new Set(access.flatMap((entry) => entry.scopes));
    const stray = requested.filter((scope) => !granted.has(scope));
    if (stray.length > 0) {
      throw new LatchkeyError('input.invalid', `scope ${stray.join(', ')} is not a scope of any listed resource`, {
        details: { scope: `${stray.join(', ')} belongs to no listed resource` },
      });
    }
  }
  return access;
}

const MANAGED_OPTIONAL = [
  'logo_uri',
  'client_uri',
  'policy_uri',
  'tos_uri',
  'access_token_ttl',
  'refresh_token_ttl',
  'jwks',
  'jwks_uri',
  'backchannel_logout_uri',
  'backchannel_logout_session_required',
  'require_pushed_authorization_requests',
  'dpop_bound_access_tokens',
  'require_signed_request_object',
  'refresh_token_reuse_grace',
  'require_mfa',
] as const;

function metadataOf(settings: ClientSettings, oidcScopes: string[], access: ClientResourceAccess[], base: ClientMetadata | undefined): ClientMetadata {
  const grants = new Set<string>(settings.grantTypes);
  const extras: Record<string, unknown> = { ...base };
  for (const key of MANAGED_OPTIONAL) delete extras[key];
  const optional = {
    logo_uri: settings.logoUri,
    client_uri: settings.clientUri,
    policy_uri: settings.policyUri,
    tos_uri: settings.tosUri,
    access_token_ttl: settings.accessTokenTtl,
    refresh_token_ttl: settings.refreshTokenTtl,
    jwks: settings.jwks,
    jwks_uri: settings.jwksUri,
    backchannel_logout_uri: settings.backchannelLogoutUri,
    // Without a URI there is nothing for it to say.
    backchannel_logout_session_required: settings.backchannelLogoutUri ? settings.backchannelLogoutSessionRequired : undefined,
    // Off is the RFCs' default: only a requirement that is on is stored.
    require_pushed_authorization_requests: settings.requirePushedAuthorizationRequests || undefined,
    dpop_bound_access_tokens: settings.dpopBoundAccessTokens || undefined,
    require_signed_request_object: settings.requireSignedRequestObject || undefined,
    refresh_token_reuse_grace: settings.refreshTokenReuseGrace,
    require_mfa: settings.requireMfa || undefined,
  };
  return {
    ...extras,
    redirect_uris: settings.redirectUris,
    post_logout_redirect_uris: settings.postLogoutRedirectUris,
    grant_types: settings.grantTypes,
    response_types: grants.has('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: settings.public ? 'none' : (settings.tokenEndpointAuthMethod ?? 'client_secret_basic'),
    scope: [...oidcScopes, ...new Set(access.flatMap((entry) => entry.scopes))].join(' '),
    cors_origins: settings.corsOrigins,
    ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)),
  };
}

function usesSecret(method: TokenEndpointAuthMethod): boolean {
  return (SECRET_AUTH_METHODS as readonly string[]).includes(method);
}

function invalidateCaches(deps: Deps): void {
  deps.catalog.invalidate('clients');
  deps.catalog.invalidate('resources');
}

export async function createClient(deps: Deps, actor: Actor, input: CreateClientInput): Promise<ClientWithSecret> {
  const settings = parseInput(clientSettings(deps.config.env), input);
  const grants = new Set<string>(settings.grantTypes);
  const oidcScopes = settings.scope ? settings.scope.filter(isOidcScope) : defaultOidcScopes(grants);
  const requestedApiScopes = settings.scope?.filter((scope) => !isOidcScope(scope));
  const clientId = newClientId();
  const method: TokenEndpointAuthMethod = settings.public ? 'none' : (settings.tokenEndpointAuthMethod ?? 'client_secret_basic');
  const clientSecret = usesSecret(method) ? newSecret() : undefined;

  const client = await deps.db.knex.transaction(async (trx) => {
    const access = await resolveResourceAccess(deps, trx, settings.resources, requestedApiScopes, new Map());
    await insertClient(trx, {
      clientId,
      name: settings.name,
      clientSecretHash: clientSecret ? sha256(clientSecret) : null,
      previousSecretHash: null,
      previousSecretExpiresAt: null,
      firstParty: settings.firstParty,
      adminAccess: settings.adminAccess,
      registeredDynamically: false,
      metadata: metadataOf(settings, oidcScopes, access, undefined),
      resources: access,
    });
    await bumpChangeCounters(trx, 'clients', 'resources');
    await recordAudit(trx, actor, {
      type: 'client.created',
      subject: { type: 'client', id: clientId },
      details: { name: settings.name, admin_access: settings.adminAccess, first_party: settings.firstParty },
    });
    const created = (await findClient(trx, clientId))!;
    await emitEvent(trx, 'client.created', { client: clientData(created) });
    return created;
  });
  invalidateCaches(deps);
  return { client, clientSecret };
}

export async function getClient(deps: Deps, clientId: string): Promise<ClientRow> {
  const client = await findClient(deps.db.knex, clientId);
  if (!client) throw clientNotFound(clientId);
  return client;
}

/** Oldest first; `name` matches any part of the name, case-insensitively. */
export async function listClients(deps: Deps, query: PageRequest & { name?: string | undefined } = {}): Promise<Page<ClientRow>> {
  return keysetPage(
    query,
    isCreatedKey,
    (limit, after) => selectClients(deps.db.knex, { limit, ...(query.name ? { name: query.name } : {}), ...(after ? { after } : {}) }),
    (client) => client.key,
  );
}

/** Changes the settings given and keeps the rest; the result must satisfy the same rules as a new client. */
export async function updateClient(deps: Deps, actor: Actor, clientId: string, input: UpdateClientInput): Promise<ClientRow> {
  const changes = parseInput(clientChanges, input);
  const client = await deps.db.knex.transaction(async (trx) => {
    const current = await findClient(trx, clientId);
    if (!current) throw clientNotFound(clientId);
    const merged: Record<string, unknown> = { ...settingsOf(current) };
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) delete merged[key];
      else if (value !== undefined) merged[key] = value;
    }
    // Whether logout tokens name the session goes with the URI: clearing the one clears the other.
    if (changes.backchannelLogoutUri === null && changes.backchannelLogoutSessionRequired === undefined) delete merged.backchannelLogoutSessionRequired;
    const settings = parseInput(clientSettings(deps.config.env), merged);
    const method: TokenEndpointAuthMethod = settings.public ? 'none' : (settings.tokenEndpointAuthMethod ?? 'client_secret_basic');
    const before = current.metadata.token_endpoint_auth_method;
    if (usesSecret(method) !== usesSecret(before)) {
      throw new LatchkeyError('input.invalid', `token_endpoint_auth_method cannot change from ${before} to ${method}: register a new client`, {
        details: { tokenEndpointAuthMethod: `can change only between ${SECRET_AUTH_METHODS.join(' and ')}` },
      });
    }
    const grants = new Set<string>(settings.grantTypes);
    const scopeGiven = changes.scope !== undefined;
    const oidcScopes = settings.scope ? settings.scope.filter(isOidcScope) : defaultOidcScopes(grants);
    const requestedApiScopes = scopeGiven ? settings.scope?.filter((scope) => !isOidcScope(scope)) : undefined;
    const currentAccess = new Map(current.resources.map((entry) => [entry.identifier, entry.scopes]));
    const access = await resolveResourceAccess(deps, trx, settings.resources, requestedApiScopes, currentAccess);
    await updateClientRow(trx, clientId, {
      name: settings.name,
      firstParty: settings.firstParty,
      adminAccess: settings.adminAccess,
      metadata: metadataOf(settings, oidcScopes, access, current.metadata),
      resources: access,
    });
    await bumpChangeCounters(trx, 'clients', 'resources');
    await recordAudit(trx, actor, {
      type: 'client.updated',
      subject: { type: 'client', id: clientId },
      details: { changed: Object.keys(changes).map((key) => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)) },
    });
    const updated = (await findClient(trx, clientId))!;
    await emitEvent(trx, 'client.updated', {
      client: clientData(updated),
      changed: Object.keys(changes).map((key) => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)),
    });
    return updated;
  });
  invalidateCaches(deps);
  return client;
}

/**
 * Issues a new secret. The old one keeps working for `graceSeconds` (none by default), so a
 * deployment can roll the new secret out before the old one stops.
 */
export async function rotateClientSecret(
  deps: Deps,
  actor: Actor,
  clientId: string,
  input: { graceSeconds?: number | undefined } = {},
): Promise<ClientWithSecret> {
  const { graceSeconds } = parseInput(
    z.object({ graceSeconds: seconds(0, MAX_SECRET_GRACE, '30 days').default(0) }),
    { graceSeconds: input.graceSeconds },
  );
  const clientSecret = newSecret();
  const client = await deps.db.knex.transaction(async (trx) => {
    const current = await findClient(trx, clientId);
    if (!current) throw clientNotFound(clientId);
    if (!current.clientSecretHash) throw new LatchkeyError('client.no_secret', `client ${clientId} authenticates without a secret (${current.metadata.token_endpoint_auth_method})`);
    const keepPrevious = graceSeconds > 0;
    await updateClientRow(trx, clientId, {
      clientSecretHash: sha256(clientSecret),
      previousSecretHash: keepPrevious ? current.clientSecretHash : null,
      previousSecretExpiresAt: keepPrevious ? new Date(now().getTime() + graceSeconds * 1000) : null,
    });
    await bumpChangeCounters(trx, 'clients');
    await recordAudit(trx, actor, { type: 'client.secret_rotated', subject: { type: 'client', id: clientId }, details: { grace_seconds: graceSeconds } });
    const rotated = (await findClient(trx, clientId))!;
    await emitEvent(trx, 'client.secret_rotated', {
      client: { client_id: clientId, client_name: rotated.name },
      previous_secret_expires_at: rotated.previousSecretExpiresAt?.toISOString() ?? null,
    });
    return rotated;
  });
  deps.catalog.invalidate('clients');
  return { client, clientSecret };
}

/**
 * Deletes a client and every artifact stored for it (grants, codes, refresh and opaque access
 * tokens, client-credentials tokens included). JWT access tokens are not stored: they live
 * until their short `exp`.
 */
export async function deleteClient(deps: Deps, actor: Actor, clientId: string): Promise<void> {
  await deps.db.knex.transaction(async (trx) => {
    const client = await findClient(trx, clientId);
    if (!client) throw clientNotFound(clientId);
    await deletePayloadsByClientId(trx, clientId);
    await deleteClientRow(trx, clientId);
    // An API whose introspection client this was has just lost it.
    await bumpChangeCounters(trx, 'clients', 'resources');
    await recordAudit(trx, actor, { type: 'client.deleted', subject: { type: 'client', id: clientId } });
    await emitEvent(trx, 'client.deleted', { client: { client_id: clientId, client_name: client.name } });
  });
  invalidateCaches(deps);
}

/** Whether `secret` is the client's current secret, or its previous one within the grace window. */
export function clientSecretMatches(client: ClientRow, secret: string, at: Date): boolean {
  const current = client.clientSecretHash !== null && matchesDigest(secret, client.clientSecretHash);
  const previous =
    client.previousSecretHash !== null &&
    client.previousSecretExpiresAt !== null &&
    client.previousSecretExpiresAt > at &&
    matchesDigest(secret, client.previousSecretHash);
  return current || previous;
}
