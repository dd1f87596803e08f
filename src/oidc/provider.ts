import Provider from 'oidc-provider';
import type { Deps } from '../deps.js';
import { clientSecretMatches } from '../domain/clients.js';
import type { KeyMaterial } from '../domain/keys.js';
import { now } from '../util/clock.js';
import { providerConfiguration } from './configuration.js';
import { logProviderEvents } from './events.js';
import { registrationManagement } from './registration.js';

export type { Provider };

/**
 * Clients' `client_secret` as the provider holds it is the SHA-256 of the real one. v9 compares
 * secrets in Client#compareClientSecret; this replaces it with a digest comparison that also
 * accepts the previous secret during a rotation's grace window.
 */
function compareSecretsByDigest(deps: Deps, provider: Provider): void {
  provider.Client.prototype.compareClientSecret = async function compareClientSecret(this: { clientId: string }, presented: string) {
    const client = await deps.catalog.client(this.clientId);
    return client !== undefined && clientSecretMatches(client, presented, now());
  };
}

/** The provider's cookie secrets (newest first), which also sign Latchkey's own cookies and CSRF tokens. */
export function cookieSecrets(provider: Provider): string[] {
  const keys = provider.keys;
  return Array.isArray(keys) ? keys : [];
}

export function createProvider(deps: Deps, keys: KeyMaterial): Provider {
  const provider = new Provider(deps.config.http.issuer, providerConfiguration(deps, keys));
  // Behind a TLS-terminating proxy the issuer is https while the socket is not.
  provider.proxy = deps.config.http.trustProxy;
  logProviderEvents(provider, deps);
  compareSecretsByDigest(deps, provider);
  provider.use(registrationManagement(deps));
  return provider;
}
