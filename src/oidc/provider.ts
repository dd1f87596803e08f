import Provider, { errors } from 'oidc-provider';
import type { Deps } from '../deps.js';
import { recordAudit } from '../domain/audit.js';
import { clientSecretMatches } from '../domain/clients.js';
import type { KeyMaterial } from '../domain/keys.js';
import { assertNotThrottled, clientThrottle, recordFailure } from '../domain/throttle.js';
import { LatchkeyError } from '../errors.js';
import { now } from '../util/clock.js';
import { continuePage, notFoundPage } from './provider-pages.js';
import { databaseStorage, providerConfiguration } from './configuration.js';
import { userCodeThrottling } from './device-flow.js';
import { logProviderEvents } from './events.js';
import { observeProvider } from './observe.js';
import { registrationManagement } from './registration.js';
import { registerTokenExchange, tokenExchangeClaims } from './token-exchange.js';
import { orUnavailable } from './unavailable.js';

export type { Provider };

/**
 * Refuses a wrong secret from a client or address that is waiting out a throttle delay.
 * oidc-provider writes its own error answers, so this is its invalid_client with status 429, a
 * description that says how long to wait, and Retry-After.
 */
async function assertClientNotThrottled(deps: Deps, throttle: ReturnType<typeof clientThrottle>): Promise<void> {
  try {
    await assertNotThrottled(deps, throttle);
  } catch (error) {
    if (!(error instanceof LatchkeyError) || error.code !== 'auth.throttled') throw error;
    const wait = error.retryAfter ?? 1;
    Provider.ctx?.set('Retry-After', String(wait));
    throw Object.assign(new errors.InvalidClientAuth(), {
      status: 429,
      statusCode: 429,
      error_description: `too many failed attempts; try again in ${wait} second${wait === 1 ? '' : 's'}`,
    });
  }
}

/**
 * Clients' `client_secret` as the provider holds it is the SHA-256 of the real one. v9 compares
 * secrets in Client#compareClientSecret (only for client_secret_basic and _post, after it found
 * the client); this replaces it with a digest comparison that also accepts the previous secret
 * during a rotation's grace window, and counts failures per client and per network address.
 *
 * The right secret is accepted without consulting the throttle: Latchkey generates every
 * client secret (256 random bits), so none can be guessed, and a throttle that also refused
 * the right one would let anyone who knows a client id lock that service out with wrong
 * secrets. It also keeps the database out of a successful client authentication. Wrong
 * secrets are counted and audited, and answered 429 while the client or address is waiting.
 */
function compareSecretsByDigest(deps: Deps, provider: Provider): void {
  provider.Client.prototype.compareClientSecret = function compareClientSecret(this: { clientId: string }, presented: string) {
    return orUnavailable(() => compareByDigest(deps, this.clientId, presented));
  };
}

async function compareByDigest(deps: Deps, clientId: string, presented: string): Promise<boolean> {
  const ctx = Provider.ctx;
  const ip = ctx?.ip ?? 'unknown';
  const client = await deps.catalog.client(clientId);
  if (client !== undefined && clientSecretMatches(client, presented, now())) return true;
  const throttle = clientThrottle(deps, clientId, ip);
  await assertClientNotThrottled(deps, throttle);
  const wait = await recordFailure(deps, throttle);
  await recordAudit(deps.db.knex, { type: 'client', id: clientId, ip }, {
    type: 'client.auth_failed',
    subject: { type: 'client', id: clientId },
    outcome: 'failure',
    details: { endpoint: ctx?.oidc?.route ?? 'unknown', ...(wait !== undefined ? { locked_out_seconds: wait } : {}) },
  });
  return false;
}

/** The provider's cookie secrets (newest first), which also sign Latchkey's own cookies and CSRF tokens. */
export function cookieSecrets(provider: Provider): string[] {
  const keys = provider.keys;
  return Array.isArray(keys) ? keys : [];
}

export function createProvider(deps: Deps, keys: KeyMaterial): Provider {
  const provider = new Provider(deps.config.http.issuer, {
    ...providerConfiguration(deps, keys, databaseStorage(deps)),
    // The act claim of exchanged tokens (RFC 8693 §4.1); registerTokenExchange below.
    extraTokenClaims: tokenExchangeClaims,
  });
  // Behind a TLS-terminating proxy the issuer is https while the socket is not.
  provider.proxy = deps.config.http.trustProxy;
  // As in app.ts: only the address our own proxy appended is trusted.
  provider.maxIpsCount = 1;
  logProviderEvents(provider, deps);
  observeProvider(provider, deps);
  compareSecretsByDigest(deps, provider);
  // RFC 8693, within the admins' token exchange policies.
  registerTokenExchange(provider, { deps, keys });
  provider.use(registrationManagement(deps));
  provider.use(userCodeThrottling(deps));
  provider.use(continuePage(deps.config.theme));
  provider.use(notFoundPage(deps.config.theme));
  return provider;
}
