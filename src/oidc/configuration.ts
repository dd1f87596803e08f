import type { Client, Configuration, KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import { errors, interactionPolicy } from 'oidc-provider';
import type { Deps } from '../deps.js';
import { ADMIN_SCOPE, adminResourceIdentifier } from '../domain/admin-access.js';
import { ACR_VALUES, isMultiFactorAcr, requiresMultiFactor } from '../domain/authentication-context.js';
import { newClientId } from '../domain/clients.js';
import { registrationProblem } from '../domain/dynamic-clients.js';
import type { KeyMaterial } from '../domain/keys.js';
import { OIDC_SCOPES } from '../domain/scopes.js';
import { isOrigin } from '../domain/uris.js';
import { renderPage } from '../http/render.js';
import { findLatestGrantId } from '../store/oidc-payloads.js';
import { now } from '../util/clock.js';
import { createAdapterFactory, REGISTRATION_POLICY } from './adapter.js';
import { countWrongUserCode, DEVICE_PAGE, deviceFlow } from './device-flow.js';
import { accountFinder } from './find-account.js';
import { renderErrorPage } from './error-page.js';
import { LANGUAGES } from '../i18n/locales.js';
import { outgoingFetch } from './outgoing-fetch.js';
import { orUnavailable } from './unavailable.js';

/** Standard claims Latchkey holds, by the scope that releases them (OIDC Core §5.4). */
export const CLAIMS = {
  // How the user signed in (acr, amr: set from the login, not from the account) goes in every ID
  // token: oidc-provider otherwise releases them only when the claims parameter asks.
  openid: ['sub', 'acr', 'amr'],
  profile: ['name', 'updated_at'],
  email: ['email', 'email_verified'],
};

type TokenLike = { clientId?: string | undefined; aud?: string | string[] | undefined };

/**
 * Introspection and revocation answer only the client the token was issued to, or the
 * introspection client registered for the API the token is meant for (not, as v9 allows by
 * default, any confidential client).
 */
async function mayInspectToken(deps: ProviderDeps, callerId: string, token: TokenLike): Promise<boolean> {
  if (token.clientId === callerId) return true;
  const audiences = Array.isArray(token.aud) ? token.aud : token.aud ? [token.aud] : [];
  for (const audience of audiences) {
    const resource = await deps.catalog.resource(audience);
    if (resource?.introspectionClientId === callerId) return true;
  }
  return false;
}

/**
 * Latchkey's own admin API: opaque tokens with the admin scope, only for clients given admin
 * access by an admin (never a dynamically registered one). Users must be admins too; the
 * interaction refuses the scope to anyone else, and the API checks again on every request.
 */
async function adminResourceServer(deps: ProviderDeps, clientId: string): Promise<ResourceServer> {
  const client = await deps.catalog.client(clientId);
  if (!client?.adminAccess || client.registeredDynamically) {
    throw new errors.InvalidTarget('this client may not ask for the admin API');
  }
  return {
    scope: ADMIN_SCOPE,
    audience: adminResourceIdentifier(deps.config),
    accessTokenTTL: clientAccessTokenTtl(client.metadata.access_token_ttl, deps.config.tokens.accessTtl),
    accessTokenFormat: 'opaque',
  };
}

/** A client's own access-token lifetime can only shorten what the API allows. */
function clientAccessTokenTtl(clientTtl: unknown, ttl: number): number {
  return typeof clientTtl === 'number' ? Math.min(clientTtl, ttl) : ttl;
}

async function resourceServerInfo(deps: ProviderDeps, indicator: string, clientId: string): Promise<ResourceServer> {
  if (indicator === adminResourceIdentifier(deps.config)) return adminResourceServer(deps, clientId);
  const [resource, client] = await Promise.all([deps.catalog.resource(indicator), deps.catalog.client(clientId)]);
  const access = client?.resources.find((entry) => entry.identifier === indicator);
  if (!resource || !access) {
    throw new errors.InvalidTarget('the resource is not registered or this client may not ask for it');
  }
  const scope = access.scopes.filter((scope) => resource.scopes.includes(scope)).join(' ');
  const accessTokenTTL = clientAccessTokenTtl(client?.metadata.access_token_ttl, resource.accessTokenTtl ?? deps.config.tokens.accessTtl);
  return resource.accessTokenFormat === 'jwt'
    ? { scope, audience: indicator, accessTokenTTL, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }
    : { scope, audience: indicator, accessTokenTTL, accessTokenFormat: 'opaque' };
}

/** The browser origins a client's front end runs on: its redirect URIs' and its registered CORS origins. */
function clientOrigins(metadata: Record<string, unknown>): Set<string> {
  const origins = new Set<string>();
  for (const uri of (metadata.redirect_uris as string[] | undefined) ?? []) {
    try {
      origins.add(new URL(uri).origin);
    } catch {
      // Registered URIs were validated on the way in; nothing to add for one that is not a URL.
    }
  }
  for (const origin of (metadata.cors_origins as string[] | undefined) ?? []) origins.add(origin);
  return origins;
}

/** A per-client setting from the client's metadata (see extraClientMetadata). */
function clientSetting(client: Client | undefined, key: 'access_token_ttl' | 'refresh_token_ttl'): unknown {
  return client ? (client.metadata() as Record<string, unknown>)[key] : undefined;
}

/**
 * Self-registration rules (domain/dynamic-clients.ts), on registration and on every RFC 7592
 * update. A description starting with "redirect_uris" is answered as invalid_redirect_uri.
 */
function selfRegistrationPolicy(ctx: KoaContextWithOIDC, properties: Record<string, unknown>): void {
  const current = ctx.oidc.route === 'client_update' ? ctx.oidc.client : undefined;
  const problem = registrationProblem(properties, current ? { tokenEndpointAuthMethod: current.tokenEndpointAuthMethod } : undefined);
  if (problem) throw new errors.InvalidClientMetadata(problem.description);
}

/**
 * oidc-provider's prompts, with one more reason to sign in: the request (or the client's
 * registration) needs a multi-factor sign-in and the session has only one factor. acr_values
 * alone is voluntary to the provider; this makes Latchkey honour it (step-up). Once the
 * interaction has returned a login, the sign-in pages have enforced it.
 */
function signInPolicy() {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(
    // login_required, as for the provider's own login checks: with prompt=none the client learns it must send the user to sign in.
    new interactionPolicy.Check('mfa_required', 'multi-factor authentication is required', 'login_required', (ctx) => {
      const { oidc } = ctx;
      if (!oidc.session?.accountId || oidc.result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const metadata = oidc.client ? (oidc.client.metadata() as Record<string, unknown>) : undefined;
      if (!requiresMultiFactor(oidc.params as Record<string, unknown>, metadata)) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return isMultiFactorAcr(oidc.session?.acr) ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}

/** Where clients register (RFC 7591) and, under it, manage their registration (RFC 7592). */
export const REGISTRATION_PATH = '/reg';

/** oidc-provider's endpoints, spelled out so the app can send their requests straight to it (app.ts). */
export const PROVIDER_ROUTES = {
  authorization: '/auth',
  end_session: '/session/end',
  introspection: '/token/introspection',
  jwks: '/jwks',
  registration: REGISTRATION_PATH,
  revocation: '/token/revocation',
  token: '/token',
  userinfo: '/me',
  pushed_authorization_request: '/par',
  device_authorization: '/device/auth',
  code_verification: DEVICE_PAGE,
} as const;

export const DISCOVERY_PATH = '/.well-known/openid-configuration';
/** RFC 8414's name for the same document; oidc-provider serves both. */
export const OAUTH_DISCOVERY_PATH = '/.well-known/oauth-authorization-server';

/**
 * Only asymmetric algorithms: HS* and client_secret_jwt need the plaintext client secret as
 * the key, and Latchkey keeps only its SHA-256.
 */
const ASYMMETRIC_SIGNING = ['ES256', 'RS256', 'PS256', 'Ed25519', 'EdDSA'] as const;
const SERVER_SIGNING = ['ES256', 'RS256'] as const;

/** What the provider's configuration reads: settings, and the clients and APIs it serves. */
export type ProviderDeps = Pick<Deps, 'config' | 'catalog' | 'sealer'>;

/**
 * Where the provider keeps its artifacts and finds accounts and past consent. Latchkey's is
 * the database; the benchmark's baseline (bench/baseline) builds the same configuration on
 * memory, so the two differ only in what this holds.
 */
export interface ProviderStorage {
  /** Undefined for oidc-provider's own in-memory adapter. */
  readonly adapter: Configuration['adapter'] | undefined;
  readonly findAccount: NonNullable<Configuration['findAccount']>;
  /** The user's most recent live grant to the client, by id. */
  latestGrantId(accountId: string, clientId: string): Promise<string | undefined>;
  /** Counts a wrong device user code against the address that typed it. */
  wrongUserCode(ip: string): Promise<void>;
}

export function databaseStorage(deps: Deps): ProviderStorage {
  const findAccount = accountFinder(deps);
  return {
    adapter: createAdapterFactory(deps),
    findAccount: (_ctx, sub) => findAccount(sub),
    wrongUserCode: (ip) => countWrongUserCode(deps, ip),
    latestGrantId: (accountId, clientId) => orUnavailable(() => findLatestGrantId(deps.db.knex, accountId, clientId, now())),
  };
}

export function providerConfiguration(deps: ProviderDeps, keys: KeyMaterial, storage: ProviderStorage): Configuration {
  const { tokens } = deps.config;
  // A client's refresh-token lifetime replaces the default (an admin set it on purpose, longer or shorter).
  const refreshTtlOf = (client: Client | undefined) => {
    const own = clientSetting(client, 'refresh_token_ttl');
    return typeof own === 'number' ? own : tokens.refreshTtl;
  };
  return {
    ...(storage.adapter ? { adapter: storage.adapter } : {}),
    findAccount: storage.findAccount,
    claims: CLAIMS,
    scopes: [...OIDC_SCOPES],
    responseTypes: ['code'],
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    enabledJWA: {
      clientAuthSigningAlgValues: [...ASYMMETRIC_SIGNING],
      requestObjectSigningAlgValues: [...ASYMMETRIC_SIGNING],
      // What the server signs with: the algorithms of its own keys.
      idTokenSigningAlgValues: [...SERVER_SIGNING],
      userinfoSigningAlgValues: [...SERVER_SIGNING],
      introspectionSigningAlgValues: [...SERVER_SIGNING],
      authorizationSigningAlgValues: [...SERVER_SIGNING],
    },
    routes: { ...PROVIDER_ROUTES },
    jwks: { keys: keys.signingKeys as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      keys: keys.cookieSecrets,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    extraClientMetadata: {
      properties: ['cors_origins', 'access_token_ttl', 'refresh_token_ttl', 'refresh_token_reuse_grace', 'require_mfa'],
      validator(_ctx, key, value) {
        if (key === 'cors_origins' && value !== undefined && !(Array.isArray(value) && value.every((entry) => typeof entry === 'string' && isOrigin(entry)))) {
          throw new errors.InvalidClientMetadata('cors_origins must be an array of origins');
        }
        if ((key === 'access_token_ttl' || key === 'refresh_token_ttl') && value !== undefined && !(Number.isSafeInteger(value) && (value as number) > 0)) {
          throw new errors.InvalidClientMetadata(`${key} must be a whole number of seconds`);
        }
        // Read by the adapter (graceful refresh rotation); 0 turns it off for the client.
        if (key === 'refresh_token_reuse_grace' && value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= 300)) {
          throw new errors.InvalidClientMetadata(`${key} must be a whole number of seconds from 0 to 300`);
        }
        if (key === 'require_mfa' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata(`${key} must be true or false`);
        }
      },
    },
    clientBasedCORS(_ctx, origin, client) {
      return clientOrigins(client.metadata() as Record<string, unknown>).has(origin);
    },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => orUnavailable(() => mayInspectToken(deps, client.clientId, token as TokenLike)),
      },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => orUnavailable(() => mayInspectToken(deps, client.clientId, token as TokenLike)),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx, indicator, client) => orUnavailable(() => resourceServerInfo(deps, indicator, client.clientId)),
      },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.body = await renderPage(ctx, 'interactions/logout', { title: 'logout.title', theme: deps.config.theme, uiLocales: ctx.oidc?.params?.ui_locales }, {
            form,
            clientName: ctx.oidc.client?.clientName ?? null,
          });
        },
        async postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.body = await renderPage(ctx, 'interactions/logged-out', { title: 'logged_out.title', theme: deps.config.theme, uiLocales: ctx.oidc?.params?.ui_locales }, {
            clientName: ctx.oidc.client?.clientName ?? null,
          });
        },
      },
      userinfo: { enabled: true },
      // Sessions ended by logout, password changes, disabling and the account page reach the
      // applications signed in through them (jobs/backchannel-logout.ts sends what we queue).
      backchannelLogout: { enabled: true },
      registration: {
        enabled: true,
        // Looked up in initial_access_tokens (adapter.ts); each carries the self-registration policy.
        initialAccessToken: true,
        policies: { [REGISTRATION_POLICY]: selfRegistrationPolicy },
        idFactory: () => newClientId(),
      },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
      // RFC 9449. Nonces are derived from the master key, so every node issues and accepts the
      // same ones; proofs are checked for replay through the adapter (ReplayDetection), across nodes.
      dPoP: { enabled: true, nonceSecret: deps.sealer.derive('dpop nonce'), requireNonce: () => true },
      // RFC 9126, for every client; a client registered with require_pushed_authorization_requests must use it.
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
      // RFC 9101 (JAR): signed request objects from clients with keys, by value or through PAR.
      requestObjects: { enabled: true, requireSignedRequestObject: false },
      deviceFlow: deviceFlow(deps.config, storage.wrongUserCode),
    },
    discovery: {
      ui_locales_supported: [...LANGUAGES],
      // Names and addresses are released as the user typed them, in no particular language.
      claims_locales_supported: ['en'],
    },
    acrValues: [...ACR_VALUES],
    interactions: {
      policy: signInPolicy(),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    renderError: renderErrorPage(deps.config),
    fetch: outgoingFetch(deps.config.env),
    // Consent is remembered per user and client: a session that has not met the client yet (another
    // browser, a sign-in after the last session ended) starts from the user's latest grant to it,
    // so only scopes not granted yet are asked for.
    async loadExistingGrant(ctx) {
      const { client, session, result, provider } = ctx.oidc;
      const grantId = result?.consent?.grantId ?? (client ? session?.grantIdFor(client.clientId) : undefined);
      const current = grantId ? await provider.Grant.find(grantId) : undefined;
      if (current || !client || !session?.accountId) return current;
      const { accountId } = session;
      const latest = await storage.latestGrantId(accountId, client.clientId);
      const grant = latest ? await provider.Grant.find(latest) : undefined;
      return grant?.accountId === accountId ? grant : undefined;
    },
    rotateRefreshToken: true,
    // OIDC Core §3.1.2.1: redirect_uri is required, even when the client registered only one.
    allowOmittingSingleRegisteredRedirectUri: false,
    ttl: {
      AccessToken: (_ctx, token, client) => token.resourceServer?.accessTokenTTL ?? clientAccessTokenTtl(clientSetting(client, 'access_token_ttl'), tokens.accessTtl),
      ClientCredentials: (_ctx, token, client) =>
        token.resourceServer?.accessTokenTTL ?? clientAccessTokenTtl(clientSetting(client, 'access_token_ttl'), tokens.accessTtl),
      AuthorizationCode: 60,
      // RFC 8628 §3.2: long enough to reach a phone and sign in, short enough that a code on a screen soon goes stale.
      DeviceCode: 600,
      IdToken: tokens.idTtl,
      Interaction: 3600,
      Grant: (ctx) => refreshTtlOf(ctx?.oidc?.client),
      // Idle timeout that slides with each use (the provider saves the session on every request
      // that reads it), never past the absolute limit counted from the sign-in.
      Session(_ctx, session) {
        const { idleTtl, absoluteTtl } = deps.config.sessions;
        if (!session.loginTs) return idleTtl;
        const left = session.loginTs + absoluteTtl - Math.floor(Date.now() / 1000);
        return Math.max(1, Math.min(idleTtl, left));
      },
      // Absolute: a rotated token keeps the expiry of the one it replaced.
      RefreshToken(ctx: KoaContextWithOIDC, _token, client) {
        const rotated = ctx?.oidc?.entities.RotatedRefreshToken;
        return rotated ? Math.max(rotated.remainingTTL, 1) : refreshTtlOf(client);
      },
    },
  };
}
