import type { Deps } from '../../../deps.js';
import {
  createUpstreamProvider,
  deleteUpstreamProvider,
  getUpstreamProvider,
  listUpstreamProviders,
  updateUpstreamProvider,
  upstreamRedirectUri,
  type CreateUpstreamProviderInput,
  type UpdateUpstreamProviderInput,
} from '../../../domain/upstream-providers.js';
import type { UpstreamProviderRow } from '../../../store/upstream-providers.js';
import { createUpstreamProviderBody, idParams, updateUpstreamProviderBody } from '../../schemas.js';
import { defineRoute, domainInput, type Route } from '../route.js';

/** A provider as the API, the CLI and --json show it: never its client secret. */
export function upstreamProviderJson(deps: Pick<Deps, 'config'>, provider: UpstreamProviderRow) {
  return {
    id: provider.id,
    kind: provider.kind,
    name: provider.displayName,
    issuer: provider.issuer,
    client_id: provider.clientId,
    client_secret_set: provider.sealedClientSecret !== null,
    scopes: provider.scopes,
    email_domains: provider.emailDomains,
    ...(provider.kind === 'microsoft' ? { tenant: provider.settings.tenant ?? null } : {}),
    ...(provider.kind === 'github' ? { github_url: provider.settings.webUrl ?? null, github_api_url: provider.settings.apiUrl ?? null } : {}),
    enabled: provider.enabled,
    /** What the admin registers upstream as the redirect URI. */
    redirect_uri: upstreamRedirectUri(deps, provider.id),
    created_at: provider.createdAt.toISOString(),
    updated_at: provider.updatedAt.toISOString(),
  };
}

const tag = 'Upstream providers';

export const upstreamProviderRoutes: Route[] = [
  defineRoute({
    method: 'post',
    path: '/upstream-providers',
    tag,
    summary:
      'Add an upstream identity provider ("Continue with ..." on the login page): any OpenID Connect issuer, or the Google, Microsoft or GitHub preset; register redirect_uri of the answer upstream',
    body: createUpstreamProviderBody,
    status: 201,
    response: 'The provider (never its client secret), with the redirect_uri to register upstream',
    handle: async ({ deps, actor, body }) => upstreamProviderJson(deps, await createUpstreamProvider(deps, actor, domainInput<CreateUpstreamProviderInput>(body))),
  }),
  defineRoute({
    method: 'get',
    path: '/upstream-providers',
    tag,
    summary: 'List upstream identity providers, by name',
    status: 200,
    response: 'Every provider (never their client secrets); next_cursor is always null',
    handle: async ({ deps }) => ({ items: (await listUpstreamProviders(deps)).map((provider) => upstreamProviderJson(deps, provider)), next_cursor: null }),
  }),
  defineRoute({
    method: 'get',
    path: '/upstream-providers/:id',
    tag,
    summary: 'Get an upstream identity provider',
    params: idParams,
    status: 200,
    response: 'The provider (never its client secret)',
    handle: async ({ deps, params }) => upstreamProviderJson(deps, await getUpstreamProvider(deps, params.id)),
  }),
  defineRoute({
    method: 'patch',
    path: '/upstream-providers/:id',
    tag,
    summary: 'Change some settings of an upstream provider; enabled false takes its button off the login page and stops sign-ins through it',
    params: idParams,
    body: updateUpstreamProviderBody,
    status: 200,
    response: 'The changed provider',
    handle: async ({ deps, actor, params, body }) =>
      upstreamProviderJson(deps, await updateUpstreamProvider(deps, actor, params.id, domainInput<UpdateUpstreamProviderInput>(body))),
  }),
  defineRoute({
    method: 'delete',
    path: '/upstream-providers/:id',
    tag,
    summary: 'Delete an upstream provider with the identities linked through it; users keep their accounts and other ways to sign in',
    params: idParams,
    status: 204,
    response: 'Deleted',
    handle: async ({ deps, actor, params }) => deleteUpstreamProvider(deps, actor, params.id),
  }),
];
