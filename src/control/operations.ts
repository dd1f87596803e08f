import type { Deps } from '../deps.js';
import { createUser, listUsers } from '../domain/accounts.js';
import { createClient, deleteClient, listClients } from '../domain/clients.js';
import { createResource, listResources } from '../domain/resources.js';
import { LatchkeyError } from '../errors.js';
import { clientJson, resourceJson, userJson } from './shapes.js';

/**
 * What the CLI can do to the data. The same functions run in the CLI's own process (when it
 * opens the database itself) and in a running server (through the control socket), so both
 * paths behave and answer alike. Inputs are already-validated-by-domain plain objects.
 */
export const operations = {
  'users.create': async (deps: Deps, input: Parameters<typeof createUser>[1]) => userJson(await createUser(deps, input)),
  'users.list': async (deps: Deps, input: { limit?: number; email?: string }) => (await listUsers(deps, input)).map(userJson),
  'clients.create': async (deps: Deps, input: Parameters<typeof createClient>[1]) => {
    const { client, clientSecret } = await createClient(deps, input);
    return { ...clientJson(client), ...(clientSecret ? { client_secret: clientSecret } : {}) };
  },
  'clients.list': async (deps: Deps, input: { limit?: number; name?: string }) => (await listClients(deps, input)).map(clientJson),
  'clients.delete': async (deps: Deps, input: { clientId: string }) => {
    await deleteClient(deps, input.clientId);
    return { client_id: input.clientId, deleted: true };
  },
  'resources.create': async (deps: Deps, input: Parameters<typeof createResource>[1]) => resourceJson(await createResource(deps, input)),
  'resources.list': async (deps: Deps, input: { limit?: number }) => (await listResources(deps, input)).map(resourceJson),
} as const;

export type OperationName = keyof typeof operations;
export type OperationInput<N extends OperationName> = Parameters<(typeof operations)[N]>[1];

function isOperationName(value: unknown): value is OperationName {
  return typeof value === 'string' && Object.hasOwn(operations, value);
}

export async function runOperation(deps: Deps, name: string, input: unknown): Promise<unknown> {
  if (!isOperationName(name)) throw new LatchkeyError('input.invalid', `unknown operation ${name}`);
  const operation = operations[name] as (deps: Deps, input: unknown) => Promise<unknown>;
  return operation(deps, input && typeof input === 'object' ? input : {});
}
