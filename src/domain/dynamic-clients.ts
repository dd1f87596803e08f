import type { Environment } from '../config.js';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { bumpChangeCounters } from '../store/change-counters.js';
import { findClient, insertClient, updateClient as updateClientRow, type ClientMetadata, type ClientRow, type TokenEndpointAuthMethod } from '../store/clients.js';
import { sha256 } from '../util/digest.js';
import { ADMIN_SCOPE } from './admin-access.js';
import { recordAudit, type Actor } from './audit.js';
import { emitEvent } from './events/emit.js';
import { clientData } from './events/catalog.js';
import { backchannelLogoutUriRule, deleteClient, GRANT_TYPES, isBackchannelLogoutUri, SECRET_AUTH_METHODS, TOKEN_EXCHANGE_GRANT } from './clients.js';
import { isLoopbackHost, isRedirectUri } from './uris.js';

/**
 * Clients that register themselves (RFC 7591) and manage their registration (RFC 7592). They
 * get what a self-service client may have, never what only an admin gives: first-party
 * treatment, admin access, the admin scope or their own token lifetimes.
 */

/** Settings only an admin may give a client. */
const ADMIN_ONLY_FIELDS = ['first_party', 'admin_access', 'access_token_ttl', 'refresh_token_ttl', 'refresh_token_reuse_grace'] as const;

/** What is wrong with requested metadata, as RFC 7591 §3.2.2 reports it. */
export interface RegistrationProblem {
  error: 'invalid_client_metadata' | 'invalid_redirect_uri';
  description: string;
}

const metadataProblem = (description: string): RegistrationProblem => ({ error: 'invalid_client_metadata', description });

/** https, or http for an app on this machine (RFC 8252 §7.3); never a pattern. */
function isAllowedRedirectUri(value: unknown): boolean {
  if (typeof value !== 'string' || value.includes('*') || !isRedirectUri(value)) return false;
  const url = new URL(value);
  return url.protocol === 'https:' || isLoopbackHost(url.hostname);
}

function usesSecret(method: unknown): boolean {
  return (SECRET_AUTH_METHODS as readonly unknown[]).includes(method ?? 'client_secret_basic');
}

/**
 * Checks metadata a client asks for, on registration and on every update. `current` is the
 * auth method of the registration being updated: a client cannot move between secret-based
 * and secret-less authentication, because a secret issued on update would never be shown to it.
 */
export function registrationProblem(metadata: Record<string, unknown>, current?: { tokenEndpointAuthMethod: unknown }): RegistrationProblem | undefined {
  for (const field of ADMIN_ONLY_FIELDS) {
    if (metadata[field] !== undefined) return metadataProblem(`${field} is set by an administrator; a self-registered client cannot ask for it`);
  }
  if (metadata.scope !== undefined) {
    if (typeof metadata.scope !== 'string') return metadataProblem('scope must be a space-separated string');
    if (metadata.scope.split(' ').includes(ADMIN_SCOPE)) return metadataProblem(`scope ${ADMIN_SCOPE} is never granted to a self-registered client`);
  }
  const grants = metadata.grant_types ?? ['authorization_code'];
  if (!Array.isArray(grants)) return metadataProblem('grant_types must be an array');
  const refused = grants.find((grant) => !(GRANT_TYPES as readonly unknown[]).includes(grant));
  if (refused !== undefined) return metadataProblem(`grant_types: ${String(refused)} is not offered; use ${GRANT_TYPES.join(', ')}`);
  if (grants.includes('client_credentials') && metadata.token_endpoint_auth_method === 'none') {
    return metadataProblem('grant_types: client_credentials needs a client that authenticates (token_endpoint_auth_method is none)');
  }
  if (grants.includes(TOKEN_EXCHANGE_GRANT) && metadata.token_endpoint_auth_method === 'none') {
    return metadataProblem(`grant_types: ${TOKEN_EXCHANGE_GRANT} needs a client that authenticates (token_endpoint_auth_method is none)`);
  }
  for (const field of ['redirect_uris', 'post_logout_redirect_uris'] as const) {
    const uris = metadata[field];
    if (uris === undefined) continue;
    if (!Array.isArray(uris) || !uris.every(isAllowedRedirectUri)) {
      const description = `${field} must be https URLs (http only for localhost, 127.0.0.1 or [::1]), without wildcards or fragments`;
      return field === 'redirect_uris' ? { error: 'invalid_redirect_uri', description } : metadataProblem(description);
    }
  }
  // The server fetches these URLs itself: nothing but https to a public name is acceptable.
  if (metadata.jwks_uri !== undefined && !(typeof metadata.jwks_uri === 'string' && isRedirectUri(metadata.jwks_uri) && metadata.jwks_uri.startsWith('https://'))) {
    return metadataProblem('jwks_uri must be an https URL');
  }
  if (metadata.sector_identifier_uri !== undefined) return metadataProblem('sector_identifier_uri is not supported (no pairwise subject identifiers)');
  if (current && usesSecret(metadata.token_endpoint_auth_method) !== usesSecret(current.tokenEndpointAuthMethod)) {
    return metadataProblem('token_endpoint_auth_method cannot change between secret-based and secret-less methods; register a new client');
  }
  return undefined;
}

/** The server posts logout tokens to this URL itself: the rule an admin's clients follow, which depends on the environment. */
function backchannelLogoutProblem(metadata: Record<string, unknown>, env: Environment): RegistrationProblem | undefined {
  const uri = metadata.backchannel_logout_uri;
  if (uri === undefined || isBackchannelLogoutUri(uri, env)) return undefined;
  return metadataProblem(`backchannel_logout_uri ${backchannelLogoutUriRule(env)}`);
}

function assertAllowed(deps: Deps, metadata: Record<string, unknown>, current?: ClientRow): void {
  const problem =
    registrationProblem(metadata, current ? { tokenEndpointAuthMethod: current.metadata.token_endpoint_auth_method } : undefined) ??
    backchannelLogoutProblem(metadata, deps.config.env);
  if (problem) throw new LatchkeyError('input.invalid', problem.description);
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : []);

/**
 * Splits the provider's view of a client (Client#metadata(): RFC 7591 names, id and secret
 * included) into our columns. The secret is handled by the callers: it is a plaintext on
 * registration and, on update, usually the digest we handed the provider.
 */
function rowFields(clientId: string, metadata: Record<string, unknown>): { name: string; metadata: ClientMetadata } {
  const { client_id: _id, client_secret: _secret, client_secret_expires_at: _expires, client_name: clientName, ...rest } = metadata;
  return {
    name: typeof clientName === 'string' && clientName.trim() !== '' ? clientName : clientId,
    metadata: {
      ...rest,
      redirect_uris: strings(rest.redirect_uris),
      post_logout_redirect_uris: strings(rest.post_logout_redirect_uris),
      grant_types: strings(rest.grant_types),
      response_types: strings(rest.response_types),
      token_endpoint_auth_method: (rest.token_endpoint_auth_method ?? 'client_secret_basic') as TokenEndpointAuthMethod,
      scope: typeof rest.scope === 'string' ? rest.scope : '',
      cors_origins: strings(rest.cors_origins),
    },
  };
}

function changedFields(before: ClientRow, name: string, metadata: ClientMetadata): string[] {
  const keys = new Set([...Object.keys(before.metadata), ...Object.keys(metadata)]);
  const changed = [...keys].filter((key) => JSON.stringify(before.metadata[key]) !== JSON.stringify(metadata[key]));
  return before.name === name ? changed : ['client_name', ...changed];
}

/** Stores a client the registration endpoint accepted; `metadata.client_secret` is the plaintext just issued. */
export async function registerDynamicClient(deps: Deps, actor: Actor, metadata: Record<string, unknown>): Promise<ClientRow> {
  const clientId = metadata.client_id;
  if (typeof clientId !== 'string') throw new LatchkeyError('input.invalid', 'a registered client needs a client_id');
  assertAllowed(deps, metadata);
  const { name, metadata: stored } = rowFields(clientId, metadata);
  const client = await deps.db.knex.transaction(async (trx) => {
    await insertClient(trx, {
      clientId,
      name,
      clientSecretHash: typeof metadata.client_secret === 'string' ? sha256(metadata.client_secret) : null,
      previousSecretHash: null,
      previousSecretExpiresAt: null,
      firstParty: false,
      adminAccess: false,
      registeredDynamically: true,
      metadata: stored,
      resources: [],
    });
    await bumpChangeCounters(trx, 'clients');
    await recordAudit(trx, actor, {
      type: 'client.created',
      subject: { type: 'client', id: clientId },
      details: { name, registered_dynamically: true, grant_types: stored.grant_types },
    });
    const created = (await findClient(trx, clientId))!;
    await emitEvent(trx, 'client.created', { client: clientData(created) });
    return created;
  });
  deps.catalog.invalidate('clients');
  return client;
}

/**
 * Stores a client's own update (RFC 7592 §2.2). The provider passes back the secret it read
 * from us, which is the digest: that one is kept as it is, so it is never hashed twice. Any
 * other value is a secret the provider has just issued and is hashed like on registration.
 */
export async function updateDynamicClient(deps: Deps, actor: Actor, clientId: string, metadata: Record<string, unknown>): Promise<ClientRow> {
  const client = await deps.db.knex.transaction(async (trx) => {
    const current = await findClient(trx, clientId);
    if (!current) throw new LatchkeyError('client.not_found', `no client with id ${clientId}`);
    if (!current.registeredDynamically) throw new LatchkeyError('input.invalid', 'only a self-registered client can change its own registration');
    assertAllowed(deps, metadata, current);
    const { name, metadata: stored } = rowFields(clientId, metadata);
    const secret = metadata.client_secret;
    const keepsSecret = typeof secret === 'string' && secret === current.clientSecretHash;
    await updateClientRow(trx, clientId, {
      name,
      metadata: stored,
      ...(keepsSecret
        ? {}
        : { clientSecretHash: typeof secret === 'string' ? sha256(secret) : null, previousSecretHash: null, previousSecretExpiresAt: null }),
    });
    await bumpChangeCounters(trx, 'clients');
    await recordAudit(trx, actor, {
      type: 'client.updated',
      subject: { type: 'client', id: clientId },
      details: { changed: changedFields(current, name, stored) },
    });
    const updated = (await findClient(trx, clientId))!;
    await emitEvent(trx, 'client.updated', { client: clientData(updated), changed: changedFields(current, name, stored) });
    return updated;
  });
  deps.catalog.invalidate('clients');
  return client;
}

/** RFC 7592 §2.3: the client, its grants and its tokens go, like an admin's delete. */
export async function deleteDynamicClient(deps: Deps, actor: Actor, clientId: string): Promise<void> {
  const current = await findClient(deps.db.knex, clientId);
  if (!current) throw new LatchkeyError('client.not_found', `no client with id ${clientId}`);
  if (!current.registeredDynamically) throw new LatchkeyError('input.invalid', 'only a self-registered client can delete its own registration');
  await deleteClient(deps, actor, clientId);
}
