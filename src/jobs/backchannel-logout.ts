import type { Deps } from '../deps.js';
import type { Provider } from '../oidc/provider.js';
import { claimDueLogouts, deleteLogout, retryLogoutLater, type PendingLogout } from '../store/backchannel-logouts.js';
import { now } from '../util/clock.js';
import { every, type Job } from './every.js';

const BATCH = 20;
// Longer than the provider's 2.5 s timeout on each logout request, with room to spare.
const LEASE_SECONDS = 60;
const MAX_ATTEMPTS = 32;

/** 10s, 20s, 40s, ... capped at an hour: 32 attempts span about a day of the application being down. */
function backoffSeconds(attempts: number): number {
  return Math.min(3600, 10 * 2 ** (attempts - 1));
}

/** Client#backchannelLogout, which oidc-provider has but its type definitions leave out. */
type SendsLogoutTokens = { backchannelLogout(sub: string, sid: string | undefined): Promise<void> };

/**
 * One logout token to one application. The provider builds and signs it (Client#backchannelLogout
 * needs no request); an application that is gone or no longer takes logout tokens is skipped.
 */
async function deliver(deps: Deps, provider: Provider, logout: PendingLogout): Promise<void> {
  const db = deps.db.knex;
  try {
    const client = await provider.Client.find(logout.clientId);
    if (client?.backchannelLogoutUri) await (client as unknown as SendsLogoutTokens).backchannelLogout(logout.accountId, logout.sid ?? undefined);
    await deleteLogout(db, logout.id);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const fields = { clientId: logout.clientId, attempts: logout.attempts, error: message };
    if (logout.attempts >= MAX_ATTEMPTS) {
      await deleteLogout(db, logout.id);
      deps.log.warn(fields, 'gave up on a back-channel logout: the application never accepted it');
      return;
    }
    await retryLogoutLater(db, logout.id, new Date(now().getTime() + backoffSeconds(logout.attempts) * 1000), message);
    deps.log.warn(fields, 'could not deliver a back-channel logout; will retry');
  }
}

/**
 * Sends the back-channel logouts queued in the database (by this server, another one, or the
 * CLI), with whichever provider is current: its keys sign the logout tokens.
 */
export function startBackchannelLogout(deps: Deps, provider: () => Provider): Job {
  return every(deps, 'back-channel logout', deps.config.cache.pollIntervalMs, async () => {
    const due = await claimDueLogouts(deps.db.knex, now(), BATCH, LEASE_SECONDS);
    await Promise.all(due.map((logout) => deliver(deps, provider(), logout)));
  });
}
