import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { bumpChangeCounter } from '../store/change-counters.js';
import {
  deleteClient as deleteClientRow,
  insertClient,
  listClients as selectClients,
  type ClientMetadata,
  type ClientResourceAccess,
  type ClientRow,
} from '../store/clients.js';
import { deletePayloadsByClientId } from '../store/oidc-payloads.js';
import { findResources } from '../store/resources.js';
import { insertResourceRow, resourceIdentifier } from './resources.js';
import { isOidcScope, isScopeToken, splitScopes } from './scopes.js';
import { isOrigin, isRedirectUri } from './uris.js';
import { clampLimit, displayName, parseInput } from './validation.js';

export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

const uriList = (check: (value: string) => boolean, message: string) =>
  z.array(z.string().refine(check, { message })).default([]).transform((list) => [...new Set(list)]);

const createClientInput = z
  .object({
    name: displayName(200),
    redirectUris: uriList(isRedirectUri, 'must be an absolute http(s) URL without a fragment'),
    postLogoutRedirectUris: uriList(isRedirectUri, 'must be an absolute http(s) URL without a fragment'),
    public: z.boolean().default(false),
    tokenEndpointAuthMethod: z
      .enum(['client_secret_basic', 'client_secret_post'], { message: 'must be client_secret_basic or client_secret_post' })
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
  })
  .superRefine((input, ctx) => {
    const grants = new Set(input.grantTypes);
    if (input.public && grants.has('client_credentials')) {
      ctx.addIssue({ code: 'custom', path: ['grantTypes'], message: 'client_credentials needs a confidential client; a public client has no secret to authenticate with' });
    }
    if (input.public && input.tokenEndpointAuthMethod) {
      ctx.addIssue({ code: 'custom', path: ['tokenEndpointAuthMethod'], message: 'does not apply to a public client' });
    }
    if (grants.has('refresh_token') && !grants.has('authorization_code')) {
      ctx.addIssue({ code: 'custom', path: ['grantTypes'], message: 'refresh_token needs authorization_code' });
    }
    if (grants.has('authorization_code') && input.redirectUris.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['redirectUris'], message: 'needs at least one redirect URI for authorization_code' });
    }
    // The provider reads an empty scope list as "any scope", so a sign-in client always lists its OIDC scopes.
    if (grants.has('authorization_code') && input.scope && !input.scope.includes('openid')) {
      ctx.addIssue({ code: 'custom', path: ['scope'], message: 'must include openid for a client that signs users in (authorization_code)' });
    }
    if (!grants.has('authorization_code') && input.redirectUris.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['redirectUris'], message: 'only apply to clients with the authorization_code grant' });
    }
  });

export type CreateClientInput = z.input<typeof createClientInput>;

export interface CreatedClient {
  client: ClientRow;
  /** Shown once; only confidential clients have one. */
  clientSecret: string | undefined;
}

function defaultOidcScopes(grants: Set<string>): string[] {
  if (!grants.has('authorization_code')) return [];
  return ['openid', 'profile', 'email', ...(grants.has('refresh_token') ? ['offline_access'] : [])];
}

export async function createClient(deps: Deps, input: CreateClientInput): Promise<CreatedClient> {
  const parsed = parseInput(createClientInput, input);
  const grants = new Set<string>(parsed.grantTypes);
  const requested = parsed.scope;
  const oidcScopes = requested ? requested.filter(isOidcScope) : defaultOidcScopes(grants);
  const requestedApiScopes = requested ? requested.filter((scope) => !isOidcScope(scope)) : undefined;

  const clientId = randomBytes(16).toString('base64url');
  const clientSecret = parsed.public ? undefined : randomBytes(32).toString('base64url');

  const client = await deps.db.knex.transaction(async (trx) => {
    const existing = new Map((await findResources(trx, parsed.resources)).map((resource) => [resource.identifier, resource]));
    const access: ClientResourceAccess[] = [];
    for (const identifier of parsed.resources) {
      const resource = existing.get(identifier);
      if (resource) {
        const scopes = requestedApiScopes ? requestedApiScopes.filter((scope) => resource.scopes.includes(scope)) : resource.scopes;
        access.push({ identifier, scopes });
        continue;
      }
      if (!requestedApiScopes || requestedApiScopes.length === 0) {
        throw new LatchkeyError('input.invalid', `resource ${identifier} is not registered yet: give its scopes with --scope`, {
          details: { scope: `names no scope for the new resource ${identifier}` },
        });
      }
      // A new API is registered with the defaults: JWT access tokens and the scopes asked for.
      await insertResourceRow(trx, { identifier, scopes: requestedApiScopes, accessTokenFormat: 'jwt', accessTokenTtl: null, introspectionClientId: null });
      access.push({ identifier, scopes: requestedApiScopes });
    }
    const granted = new Set(access.flatMap((entry) => entry.scopes));
    const stray = (requestedApiScopes ?? []).filter((scope) => !granted.has(scope));
    if (stray.length > 0) {
      throw new LatchkeyError('input.invalid', `scope ${stray.join(', ')} is not a scope of any resource given with --resource`, {
        details: { scope: `${stray.join(', ')} belongs to no listed resource` },
      });
    }
    const metadata: ClientMetadata = {
      redirect_uris: parsed.redirectUris,
      post_logout_redirect_uris: parsed.postLogoutRedirectUris,
      grant_types: parsed.grantTypes,
      response_types: grants.has('authorization_code') ? ['code'] : [],
      token_endpoint_auth_method: parsed.public ? 'none' : (parsed.tokenEndpointAuthMethod ?? 'client_secret_basic'),
      scope: [...oidcScopes, ...granted].join(' '),
      cors_origins: parsed.corsOrigins,
    };
    await insertClient(trx, { clientId, name: parsed.name, clientSecret: clientSecret ?? null, metadata, resources: access });
    await bumpChangeCounter(trx, 'clients');
    const now = new Date();
    return { clientId, name: parsed.name, clientSecret: clientSecret ?? null, metadata, resources: access, createdAt: now, updatedAt: now };
  });
  deps.catalog.invalidate('clients');
  deps.catalog.invalidate('resources');
  return { client, clientSecret };
}

export async function listClients(deps: Deps, options: { limit?: number; name?: string } = {}): Promise<ClientRow[]> {
  return selectClients(deps.db.knex, {
    limit: clampLimit(options.limit),
    ...(options.name ? { name: options.name } : {}),
  });
}

/**
 * Deletes a client and every artifact stored for it (grants, codes, refresh and opaque access
 * tokens, client-credentials tokens included). JWT access tokens are not stored: they live
 * until their short `exp`.
 */
export async function deleteClient(deps: Deps, clientId: string): Promise<void> {
  await deps.db.knex.transaction(async (trx) => {
    await deletePayloadsByClientId(trx, clientId);
    if (!(await deleteClientRow(trx, clientId))) {
      throw new LatchkeyError('client.not_found', `no client with id ${clientId}`);
    }
    await bumpChangeCounter(trx, 'clients');
    // An API whose introspection client this was has just lost it.
    await bumpChangeCounter(trx, 'resources');
  });
  deps.catalog.invalidate('clients');
  deps.catalog.invalidate('resources');
}
