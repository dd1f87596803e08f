import { isDeepStrictEqual } from 'node:util';
import type { Knex } from 'knex';
import type { Config } from '../config.js';
import type { Deps } from '../deps.js';
import { bumpChangeCounters } from '../store/change-counters.js';
import { findClient, insertClient, updateClient, type ClientMetadata, type ClientRow } from '../store/clients.js';
import { recordAudit, type Actor } from './audit.js';
import { clientData } from './events/catalog.js';
import { emitEvent } from './events/emit.js';

/** The admin console signs admins in as this public client of Latchkey itself. */
export const CONSOLE_CLIENT_ID = 'latchkey-console';

/** The account page signs users in as this public client of Latchkey itself. */
export const ACCOUNT_CLIENT_ID = 'latchkey-account';

/** Latchkey's own applications: not "connected apps" a user chose to trust. */
export const BUILT_IN_CLIENT_IDS: readonly string[] = [CONSOLE_CLIENT_ID, ACCOUNT_CLIENT_ID];

/** Where a built-in application lives on the issuer: its sign-in callback and signed-out page hang off it. */
const BASE_PATHS = { [CONSOLE_CLIENT_ID]: '/admin', [ACCOUNT_CLIENT_ID]: '/account' } as const;

export type BuiltInClientId = keyof typeof BASE_PATHS;

export function redirectUriOf(config: Pick<Config, 'http'>, clientId: BuiltInClientId): string {
  return `${config.http.issuer}${BASE_PATHS[clientId]}/callback`;
}

export function postLogoutUriOf(config: Pick<Config, 'http'>, clientId: BuiltInClientId): string {
  return `${config.http.issuer}${BASE_PATHS[clientId]}/signed-out`;
}

const startup: Actor = { type: 'system', id: 'startup', ip: null };

interface DesiredClient {
  clientId: BuiltInClientId;
  name: string;
  firstParty: boolean;
  adminAccess: boolean;
  metadata: ClientMetadata;
}

function desiredClient(config: Pick<Config, 'http'>, clientId: BuiltInClientId, settings: { name: string; adminAccess: boolean; scope: string }): DesiredClient {
  return {
    clientId,
    name: settings.name,
    firstParty: true,
    adminAccess: settings.adminAccess,
    metadata: {
      redirect_uris: [redirectUriOf(config, clientId)],
      post_logout_redirect_uris: [postLogoutUriOf(config, clientId)],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      // Public: these applications hold no secret; PKCE protects the code.
      token_endpoint_auth_method: 'none',
      scope: settings.scope,
      cors_origins: [],
    },
  };
}

function desiredClients(config: Pick<Config, 'http'>): DesiredClient[] {
  return [
    desiredClient(config, CONSOLE_CLIENT_ID, { name: 'Latchkey admin console', adminAccess: true, scope: 'openid' }),
    desiredClient(config, ACCOUNT_CLIENT_ID, { name: 'Your Latchkey account', adminAccess: false, scope: 'openid profile email' }),
  ];
}

function matches(current: ClientRow, desired: DesiredClient): boolean {
  return (
    current.name === desired.name &&
    current.firstParty === desired.firstParty &&
    current.adminAccess === desired.adminAccess &&
    current.resources.length === 0 &&
    isDeepStrictEqual(current.metadata, desired.metadata)
  );
}

/** Returns whether it had to write. */
async function ensureClient(trx: Knex, desired: DesiredClient): Promise<boolean> {
  const { clientId, ...settings } = desired;
  const current = await findClient(trx, clientId);
  if (current && matches(current, desired)) return false;
  if (current) {
    await updateClient(trx, clientId, { ...settings, resources: [] });
  } else {
    await insertClient(trx, {
      clientId,
      ...settings,
      clientSecretHash: null,
      previousSecretHash: null,
      previousSecretExpiresAt: null,
      registeredDynamically: false,
      resources: [],
    });
  }
  await recordAudit(trx, startup, {
    type: current ? 'client.updated' : 'client.created',
    subject: { type: 'client', id: clientId },
    details: current ? { changed: ['built_in_client_settings'] } : { name: desired.name, admin_access: desired.adminAccess, first_party: true },
  });
  const client = clientData((await findClient(trx, clientId))!);
  if (current) await emitEvent(trx, 'client.updated', { client, changed: ['built_in_client_settings'] });
  else await emitEvent(trx, 'client.created', { client });
  return true;
}

/**
 * Creates Latchkey's own clients (the admin console, the account page), or puts them back as
 * Latchkey needs them (the issuer, and so the redirect URIs, may have changed; an admin may
 * have edited one). Runs under the bootstrap lock, so servers starting together on one
 * database create them once.
 */
export async function ensureFirstPartyClients(deps: Deps): Promise<void> {
  const changed = await deps.db.withExclusiveLock(() =>
    deps.db.knex.transaction(async (trx) => {
      let wrote = false;
      for (const desired of desiredClients(deps.config)) wrote = (await ensureClient(trx, desired)) || wrote;
      if (wrote) await bumpChangeCounters(trx, 'clients');
      return wrote;
    }),
  );
  if (changed) deps.catalog.invalidate('clients');
}
