import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config.js';
import type { Deps } from '../deps.js';
import { bumpChangeCounters } from '../store/change-counters.js';
import { findClient, insertClient, updateClient, type ClientMetadata, type ClientRow } from '../store/clients.js';
import { recordAudit, type Actor } from './audit.js';

/** The admin console signs admins in as this public client of Latchkey itself. */
export const CONSOLE_CLIENT_ID = 'latchkey-console';

export function consoleRedirectUri(config: Pick<Config, 'http'>): string {
  return `${config.http.issuer}/admin/callback`;
}

export function consolePostLogoutUri(config: Pick<Config, 'http'>): string {
  return `${config.http.issuer}/admin/signed-out`;
}

const startup: Actor = { type: 'system', id: 'startup', ip: null };

function desiredClient(config: Pick<Config, 'http'>) {
  const metadata: ClientMetadata = {
    redirect_uris: [consoleRedirectUri(config)],
    post_logout_redirect_uris: [consolePostLogoutUri(config)],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    // Public: the console holds no secret; PKCE protects the code.
    token_endpoint_auth_method: 'none',
    scope: 'openid',
    cors_origins: [],
  };
  return { name: 'Latchkey admin console', firstParty: true, adminAccess: true, metadata };
}

function matches(current: ClientRow, desired: ReturnType<typeof desiredClient>): boolean {
  return (
    current.name === desired.name &&
    current.firstParty === desired.firstParty &&
    current.adminAccess === desired.adminAccess &&
    current.resources.length === 0 &&
    isDeepStrictEqual(current.metadata, desired.metadata)
  );
}

/**
 * Creates the console's client, or puts it back as Latchkey needs it (the issuer, and so the
 * redirect URIs, may have changed; an admin may have edited it). Runs under the bootstrap
 * lock, so servers starting together on one database create it once.
 */
export async function ensureConsoleClient(deps: Deps): Promise<void> {
  const desired = desiredClient(deps.config);
  const changed = await deps.db.withExclusiveLock(() =>
    deps.db.knex.transaction(async (trx) => {
      const current = await findClient(trx, CONSOLE_CLIENT_ID);
      if (current && matches(current, desired)) return false;
      if (current) {
        await updateClient(trx, CONSOLE_CLIENT_ID, { ...desired, resources: [] });
      } else {
        await insertClient(trx, {
          clientId: CONSOLE_CLIENT_ID,
          ...desired,
          clientSecretHash: null,
          previousSecretHash: null,
          previousSecretExpiresAt: null,
          registeredDynamically: false,
          resources: [],
        });
      }
      await bumpChangeCounters(trx, 'clients');
      await recordAudit(trx, startup, {
        type: current ? 'client.updated' : 'client.created',
        subject: { type: 'client', id: CONSOLE_CLIENT_ID },
        details: current ? { changed: ['built_in_console_settings'] } : { name: desired.name, admin_access: true, first_party: true },
      });
      return true;
    }),
  );
  if (changed) deps.catalog.invalidate('clients');
}
