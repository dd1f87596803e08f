import type { Router } from '@koa/router';
import type { Context } from 'koa';
import {
  createClient,
  deleteClient,
  DEVICE_CODE_GRANT,
  getClient,
  GRANT_TYPES,
  listClients,
  rotateClientSecret,
  SECRET_AUTH_METHODS,
  updateClient,
  type CreateClientInput,
  type UpdateClientInput,
} from '../../domain/clients.js';
import { BUILT_IN_CLIENT_IDS } from '../../domain/first-party-clients.js';
import type { ClientRow } from '../../store/clients.js';
import { checked, checkedValues, formBody, lines, optional, seconds, text, type FormBody, type FormProblem } from '../../http/forms.js';
import { principal, SECRET_GRACE_CHOICES, type ConsoleKit } from './kit.js';

const OPTIONAL_URIS = ['logoUri', 'clientUri', 'policyUri', 'tosUri', 'backchannelLogoutUri'] as const;
/** Seconds fields: empty is "not set" (the server default). */
const TTLS = ['accessTokenTtl', 'refreshTokenTtl', 'refreshTokenReuseGrace'] as const;
/** Protocol requirements (RFC 9126, 9449, 9101): an unchecked box is off. */
const REQUIREMENTS = ['requirePushedAuthorizationRequests', 'dpopBoundAccessTokens', 'requireSignedRequestObject'] as const;

/** What the client form shows: the text of every field, as stored or as the admin typed it. */
interface ClientFormValues {
  name: string;
  public: boolean;
  tokenEndpointAuthMethod: string;
  grantTypes: string[];
  redirectUris: string;
  postLogoutRedirectUris: string;
  scope: string;
  resources: string;
  corsOrigins: string;
  firstParty: boolean;
  adminAccess: boolean;
  logoUri: string;
  clientUri: string;
  policyUri: string;
  tosUri: string;
  accessTokenTtl: string;
  refreshTokenTtl: string;
  backchannelLogoutUri: string;
  backchannelLogoutSessionRequired: boolean;
  requirePushedAuthorizationRequests: boolean;
  dpopBoundAccessTokens: boolean;
  requireSignedRequestObject: boolean;
  refreshTokenReuseGrace: string;
  requireMfa: boolean;
}

function storedValues(client: ClientRow): ClientFormValues {
  const m = client.metadata;
  return {
    name: client.name,
    public: m.token_endpoint_auth_method === 'none',
    tokenEndpointAuthMethod: m.token_endpoint_auth_method,
    grantTypes: m.grant_types,
    redirectUris: m.redirect_uris.join('\n'),
    postLogoutRedirectUris: m.post_logout_redirect_uris.join('\n'),
    scope: m.scope,
    resources: client.resources.map((entry) => entry.identifier).join('\n'),
    corsOrigins: m.cors_origins.join('\n'),
    firstParty: client.firstParty,
    adminAccess: client.adminAccess,
    logoUri: m.logo_uri ?? '',
    clientUri: m.client_uri ?? '',
    policyUri: m.policy_uri ?? '',
    tosUri: m.tos_uri ?? '',
    accessTokenTtl: m.access_token_ttl?.toString() ?? '',
    refreshTokenTtl: m.refresh_token_ttl?.toString() ?? '',
    backchannelLogoutUri: m.backchannel_logout_uri ?? '',
    backchannelLogoutSessionRequired: m.backchannel_logout_session_required ?? false,
    requirePushedAuthorizationRequests: m.require_pushed_authorization_requests ?? false,
    dpopBoundAccessTokens: m.dpop_bound_access_tokens ?? false,
    requireSignedRequestObject: m.require_signed_request_object ?? false,
    refreshTokenReuseGrace: m.refresh_token_reuse_grace?.toString() ?? '',
    requireMfa: m.require_mfa ?? false,
  };
}

function submittedValues(body: FormBody): ClientFormValues {
  return {
    name: text(body, 'name'),
    public: checked(body, 'public'),
    tokenEndpointAuthMethod: text(body, 'tokenEndpointAuthMethod'),
    grantTypes: checkedValues(body, 'grantTypes'),
    redirectUris: text(body, 'redirectUris'),
    postLogoutRedirectUris: text(body, 'postLogoutRedirectUris'),
    scope: text(body, 'scope'),
    resources: text(body, 'resources'),
    corsOrigins: text(body, 'corsOrigins'),
    firstParty: checked(body, 'firstParty'),
    adminAccess: checked(body, 'adminAccess'),
    logoUri: text(body, 'logoUri'),
    clientUri: text(body, 'clientUri'),
    policyUri: text(body, 'policyUri'),
    tosUri: text(body, 'tosUri'),
    accessTokenTtl: text(body, 'accessTokenTtl'),
    refreshTokenTtl: text(body, 'refreshTokenTtl'),
    backchannelLogoutUri: text(body, 'backchannelLogoutUri'),
    backchannelLogoutSessionRequired: checked(body, 'backchannelLogoutSessionRequired'),
    requirePushedAuthorizationRequests: checked(body, 'requirePushedAuthorizationRequests'),
    dpopBoundAccessTokens: checked(body, 'dpopBoundAccessTokens'),
    requireSignedRequestObject: checked(body, 'requireSignedRequestObject'),
    refreshTokenReuseGrace: text(body, 'refreshTokenReuseGrace'),
    requireMfa: checked(body, 'requireMfa'),
  };
}

/** The settings every client form sends; an empty optional field is "not set". */
function commonInput(body: FormBody) {
  return {
    name: text(body, 'name'),
    grantTypes: checkedValues(body, 'grantTypes'),
    redirectUris: lines(body, 'redirectUris'),
    postLogoutRedirectUris: lines(body, 'postLogoutRedirectUris'),
    resources: lines(body, 'resources'),
    corsOrigins: lines(body, 'corsOrigins'),
    firstParty: checked(body, 'firstParty'),
    adminAccess: checked(body, 'adminAccess'),
    backchannelLogoutSessionRequired: checked(body, 'backchannelLogoutSessionRequired'),
    requireMfa: checked(body, 'requireMfa'),
    ...Object.fromEntries(REQUIREMENTS.map((key) => [key, checked(body, key)])),
  };
}

function createInput(body: FormBody): CreateClientInput {
  const scope = optional(body, 'scope');
  const isPublic = checked(body, 'public');
  const method = optional(body, 'tokenEndpointAuthMethod');
  const input: Record<string, unknown> = { ...commonInput(body), public: isPublic };
  if (scope !== undefined) input.scope = scope;
  if (!isPublic && method !== undefined) input.tokenEndpointAuthMethod = method;
  for (const key of OPTIONAL_URIS) input[key] = optional(body, key);
  for (const key of TTLS) input[key] = seconds(body, key);
  // The domain validates every value; the form only shapes them.
  return input as CreateClientInput;
}

/**
 * An emptied optional field clears the setting (null); an empty scope keeps the current one.
 * The edit form offers the authentication method only to clients with a secret.
 */
function updateInput(body: FormBody): UpdateClientInput {
  const scope = optional(body, 'scope');
  const method = optional(body, 'tokenEndpointAuthMethod');
  const input: Record<string, unknown> = { ...commonInput(body) };
  if (scope !== undefined) input.scope = scope;
  if (method !== undefined) input.tokenEndpointAuthMethod = method;
  for (const key of OPTIONAL_URIS) input[key] = optional(body, key) ?? null;
  for (const key of TTLS) input[key] = seconds(body, key) ?? null;
  return input as UpdateClientInput;
}

const usesSecret = (client: ClientRow) => (SECRET_AUTH_METHODS as readonly string[]).includes(client.metadata.token_endpoint_auth_method);

const formChoices = { grantTypeChoices: GRANT_TYPES, deviceCodeGrant: DEVICE_CODE_GRANT, authMethodChoices: SECRET_AUTH_METHODS };

export function clientRoutes(router: Router, kit: ConsoleKit): void {
  const { deps, guard } = kit;
  const path = (clientId: string) => `/admin/clients/${encodeURIComponent(clientId)}`;

  const showNew = (ctx: Context, values: ClientFormValues | null, problem: FormProblem | null) =>
    kit.page(ctx, 'clients', 'new', 'admin.clients.new', { values, problem, ...formChoices });

  const showEdit = (ctx: Context, client: ClientRow, values: ClientFormValues, problem: FormProblem | null) =>
    kit.page(ctx, 'clients', 'edit', { key: 'admin.named', params: { name: client.name } }, { client, values, problem, usesSecret: usesSecret(client), builtIn: BUILT_IN_CLIENT_IDS.includes(client.clientId), ...formChoices });

  router.get('/clients', ...guard, async (ctx) => {
    const name = optional(ctx.query, 'name');
    const page = await listClients(deps, { name, cursor: optional(ctx.query, 'cursor'), limit: 50 });
    await kit.page(ctx, 'clients', 'list', 'admin.clients.title', { page, name: name ?? '', builtInClientIds: BUILT_IN_CLIENT_IDS });
  });

  router.get('/clients/new', ...guard, (ctx) => showNew(ctx, null, null));

  router.post('/clients', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    await kit.submit(
      ctx,
      async () => {
        const { client, clientSecret } = await createClient(deps, principal(ctx).actor, createInput(body));
        await kit.page(ctx, 'clients', 'secret', 'admin.clients.created', { client, clientSecret, created: true });
      },
      (problem) => showNew(ctx, submittedValues(body), problem),
    );
  });

  router.get('/clients/:id', ...guard, async (ctx) => {
    const client = await getClient(deps, ctx.params.id!);
    await showEdit(ctx, client, storedValues(client), null);
  });

  router.post('/clients/:id', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    const clientId = ctx.params.id!;
    await kit.submit(
      ctx,
      async () => {
        const client = await updateClient(deps, principal(ctx).actor, clientId, updateInput(body));
        kit.done(ctx, path(client.clientId), 'admin.saved', { name: client.name });
      },
      async (problem) => showEdit(ctx, await getClient(deps, clientId), submittedValues(body), problem),
    );
  });

  router.get('/clients/:id/rotate', ...guard, async (ctx) => {
    const client = await getClient(deps, ctx.params.id!);
    await kit.page(ctx, 'clients', 'rotate', { key: 'admin.clients.rotate.title', params: { name: client.name } }, { client, graceChoices: SECRET_GRACE_CHOICES });
  });

  router.post('/clients/:id/rotate', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    const { client, clientSecret } = await rotateClientSecret(deps, principal(ctx).actor, ctx.params.id!, { graceSeconds: seconds(body, 'graceSeconds') });
    await kit.page(ctx, 'clients', 'secret', 'admin.clients.new_secret', { client, clientSecret, created: false });
  });

  router.get('/clients/:id/delete', ...guard, async (ctx) => {
    const client = await getClient(deps, ctx.params.id!);
    await kit.page(ctx, 'clients', 'delete', { key: 'admin.delete', params: { name: client.name } }, { client });
  });

  router.post('/clients/:id/delete', ...guard, async (ctx) => {
    await deleteClient(deps, principal(ctx).actor, ctx.params.id!);
    kit.done(ctx, '/admin/clients', 'admin.clients.deleted');
  });
}
