import Provider from 'oidc-provider';
import type { Deps } from '../deps.js';
import type { KeyMaterial } from '../domain/keys.js';
import { providerConfiguration } from './configuration.js';
import { logProviderEvents } from './events.js';

export type { Provider };

export function createProvider(deps: Deps, keys: KeyMaterial): Provider {
  const provider = new Provider(deps.config.http.issuer, providerConfiguration(deps, keys));
  // Behind a TLS-terminating proxy the issuer is https while the socket is not.
  provider.proxy = deps.config.http.trustProxy;
  logProviderEvents(provider, deps.log);
  return provider;
}
