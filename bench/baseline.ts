/**
 * The baseline: bare oidc-provider, built from Latchkey's own provider configuration module
 * and keys, with everything Latchkey keeps in PostgreSQL held in memory instead (an in-memory
 * adapter; the clients as its static clients; the account and the APIs in maps).
 * None of Latchkey's HTTP layer, throttling, metrics or logging is in front of it. Started by
 * run.ts, which sends the setup over IPC.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import type { Catalog } from '../src/cache/catalog.js';
import { loadConfig } from '../src/config.js';
import type { KeyMaterial } from '../src/domain/keys.js';
import { providerClientMetadata } from '../src/oidc/adapter.js';
import { providerConfiguration, type ProviderStorage } from '../src/oidc/configuration.js';
import { accountOf } from '../src/oidc/find-account.js';
import type { ClientRow } from '../src/store/clients.js';
import type { ResourceRow } from '../src/store/resources.js';
import type { UserRow } from '../src/store/users.js';
import { createSealer } from '../src/secrets/sealer.js';
import { createMemoryAdapterFactory } from './memory-adapter.js';
import { mintRefreshTokens } from './mint.js';

export interface BaselineSetup {
  env: Record<string, string>;
  keys: KeyMaterial;
  /** Each client with its secret in clear: the bare provider compares secrets as given. */
  clients: { row: ClientRow; secret: string | undefined }[];
  resources: ResourceRow[];
  user: UserRow;
}

export type BaselineRequest = { type: 'setup'; setup: BaselineSetup } | { type: 'mint'; clientId: string; accountId: string; count: number };
export type BaselineReply = { type: 'ready'; port: number } | { type: 'minted'; tokens: string[] } | { type: 'failed'; message: string };

function memoryCatalog(setup: BaselineSetup): Catalog {
  const clients = new Map(setup.clients.map(({ row }) => [row.clientId, row]));
  const resources = new Map(setup.resources.map((row) => [row.identifier, row]));
  return {
    client: async (clientId) => clients.get(clientId),
    resource: async (identifier) => resources.get(identifier),
    upstreamProviders: async () => [],
    invalidate: () => undefined,
  };
}

function memoryStorage(user: UserRow): ProviderStorage {
  const account = accountOf(user);
  return {
    adapter: createMemoryAdapterFactory(),
    findAccount: (_ctx, sub) => (sub === user.id ? account : undefined),
    latestGrantId: async () => undefined,
    wrongUserCode: async () => undefined,
  };
}

function start(setup: BaselineSetup): Promise<{ provider: Provider; port: number }> {
  const config = loadConfig(setup.env);
  // Its own master key: only derived values (DPoP nonces) come from it, none stored.
  const sealer = createSealer(randomBytes(32).toString('base64'));
  const configuration = providerConfiguration({ config, catalog: memoryCatalog(setup), sealer }, setup.keys, memoryStorage(setup.user));
  const provider = new Provider(config.http.issuer, {
    ...configuration,
    clients: setup.clients.map(({ row, secret }) => ({
      ...providerClientMetadata(row),
      client_id: row.clientId,
      ...(secret ? { client_secret: secret } : {}),
    })),
  });
  // As createProvider does: behind the same TLS-terminating proxy as Latchkey.
  provider.proxy = config.http.trustProxy;
  const server = createServer(provider.callback());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, '127.0.0.1', () => resolve({ provider, port: (server.address() as AddressInfo).port }));
  });
}

let provider: Provider | undefined;
const reply = (message: BaselineReply) => process.send?.(message);

process.on('message', (message: BaselineRequest) => {
  const work = async (): Promise<BaselineReply> => {
    if (message.type === 'setup') {
      const started = await start(message.setup);
      provider = started.provider;
      return { type: 'ready', port: started.port };
    }
    if (!provider) throw new Error('the baseline has not been set up');
    return { type: 'minted', tokens: await mintRefreshTokens(provider, message) };
  };
  work().then(reply, (error: unknown) => reply({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
});
process.on('disconnect', () => process.exit(0));
