import type { Knex } from 'knex';
import type { ChangeTopic } from '../store/change-counters.js';
import { findClient, type ClientRow } from '../store/clients.js';
import { findResource, type ResourceRow } from '../store/resources.js';
import { listProviders, type UpstreamProviderRow } from '../store/upstream-providers.js';

/**
 * Per-process cache of what every token request reads (clients and resources) and what every
 * login page shows (the enabled upstream providers, a short list admins keep). Entries are
 * dropped when this process changes them and when the change feed sees another process did.
 * Only what exists is kept: ids and indicators come from requests, and remembering every
 * unknown one would let anyone grow this process's memory without bound.
 */
export interface Catalog {
  client(clientId: string): Promise<ClientRow | undefined>;
  resource(identifier: string): Promise<ResourceRow | undefined>;
  /** The enabled upstream providers, in the login page's order. */
  upstreamProviders(): Promise<UpstreamProviderRow[]>;
  invalidate(topic: Exclude<ChangeTopic, 'keys'>): void;
}

export function createCatalog(db: Knex): Catalog {
  const clients = new Map<string, Promise<ClientRow | undefined>>();
  const resources = new Map<string, Promise<ResourceRow | undefined>>();
  let upstreamProviders: Promise<UpstreamProviderRow[]> | undefined;

  function memo<T>(map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
    let entry = map.get(key);
    if (!entry) {
      entry = load();
      map.set(key, entry);
      // Neither a miss nor a failed load (database down) is remembered.
      entry.then(
        (found) => found === undefined && map.get(key) === entry && map.delete(key),
        () => map.get(key) === entry && map.delete(key),
      );
    }
    return entry;
  }

  return {
    client: (clientId) => memo(clients, clientId, () => findClient(db, clientId)),
    resource: (identifier) => memo(resources, identifier, () => findResource(db, identifier)),
    upstreamProviders() {
      if (!upstreamProviders) {
        const loading = listProviders(db, { enabledOnly: true });
        upstreamProviders = loading;
        // A failed load (database down) is not remembered.
        loading.catch(() => upstreamProviders === loading && (upstreamProviders = undefined));
      }
      return upstreamProviders;
    },
    invalidate(topic) {
      if (topic === 'upstream_providers') upstreamProviders = undefined;
      else (topic === 'clients' ? clients : resources).clear();
    },
  };
}
