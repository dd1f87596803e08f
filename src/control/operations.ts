import {
  auditEventJson,
  clientJson,
  factorsResetJson,
  grantJson,
  initialAccessTokenJson,
  keyJson,
  pageJson,
  resourceJson,
  tokenExchangePolicyJson,
  userJson,
  webhookDeliveryJson,
  webhookJson,
} from '../admin/shapes.js';
import type { Deps } from '../deps.js';
import { cliActor, listAuditEvents, type AuditQuery } from '../domain/audit.js';
import { createClient, deleteClient, getClient, listClients, rotateClientSecret, updateClient, type ClientWithSecret } from '../domain/clients.js';
import { factorsOf, resetFactors } from '../domain/factors/summary.js';
import { listUserGrants, revokeGrant } from '../domain/grants.js';
import { createInitialAccessToken, listInitialAccessTokens, revokeInitialAccessToken } from '../domain/initial-access-tokens.js';
import { listKeys, rotateKeys } from '../domain/keys.js';
import type { PageRequest } from '../domain/pagination.js';
import { createResource, deleteResource, getResource, listResources, updateResource } from '../domain/resources.js';
import {
  createTokenExchangePolicy,
  deleteTokenExchangePolicy,
  getTokenExchangePolicy,
  listTokenExchangePolicies,
} from '../domain/token-exchange.js';
import { importUsers, type ImportOptions } from '../domain/user-import.js';
import { createUser, deleteUser, disableUser, enableUser, getUser, getUserByIdOrEmail, listUsers, setUserPassword, updateUser } from '../domain/users.js';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listWebhookDeliveries,
  listWebhooks,
  redeliverWebhook,
  rotateWebhookSecret,
  updateWebhook,
  type WebhookWithSecret,
} from '../domain/webhooks.js';
import {
  createUpstreamProvider,
  deleteUpstreamProvider,
  getUpstreamProvider,
  listUpstreamProviders,
  updateUpstreamProvider,
} from '../domain/upstream-providers.js';
import { upstreamProviderJson } from '../admin/api/routes/upstream-providers.js';
import { LatchkeyError } from '../errors.js';

type Second<F> = F extends (deps: Deps, actor: never, input: infer I) => unknown ? I : never;

function withSecret({ client, clientSecret }: ClientWithSecret) {
  return { ...clientJson(client), ...(clientSecret ? { client_secret: clientSecret } : {}) };
}

function withSigningSecret({ webhook, secret }: WebhookWithSecret) {
  return { ...webhookJson(webhook), secret };
}

/**
 * What the CLI can do to the data. The same functions run in the CLI's own process (when it
 * opens the database itself) and in a running server (through the control socket, which only
 * the data dir's owner can reach), so both paths behave and answer alike. The actor is the
 * operating-system user either way.
 */
export const operations = {
  'users.create': async (deps: Deps, input: Second<typeof createUser>) => userJson(await createUser(deps, cliActor(), input)),
  'users.get': async (deps: Deps, input: { id: string }) => {
    const user = await getUser(deps, input.id);
    return userJson(user, await factorsOf(deps, user.id));
  },
  'users.list': async (deps: Deps, input: PageRequest & { email?: string | undefined }) => pageJson(await listUsers(deps, input), userJson),
  'users.update': async (deps: Deps, input: { id: string; changes: Parameters<typeof updateUser>[3] }) =>
    userJson(await updateUser(deps, cliActor(), input.id, input.changes)),
  'users.set-password': async (deps: Deps, input: { id: string; password: string }) =>
    userJson(await setUserPassword(deps, cliActor(), input.id, { password: input.password })),
  'users.disable': async (deps: Deps, input: { id: string }) => userJson(await disableUser(deps, cliActor(), input.id)),
  'users.enable': async (deps: Deps, input: { id: string }) => userJson(await enableUser(deps, cliActor(), input.id)),
  'users.delete': async (deps: Deps, input: { id: string }) => {
    await deleteUser(deps, cliActor(), input.id);
    return { id: input.id, deleted: true };
  },
  'users.reset-factors': async (deps: Deps, input: { user: string }) => {
    const user = await getUserByIdOrEmail(deps, input.user);
    return factorsResetJson(user.id, await resetFactors(deps, cliActor(), user.id));
  },
  'users.import': async (deps: Deps, input: ImportOptions & { content: string }) =>
    importUsers(deps, cliActor(), typeof input.content === 'string' ? input.content : '', { format: input.format, offset: input.offset }),
  'clients.create': async (deps: Deps, input: Second<typeof createClient>) => withSecret(await createClient(deps, cliActor(), input)),
  'clients.get': async (deps: Deps, input: { clientId: string }) => clientJson(await getClient(deps, input.clientId)),
  'clients.list': async (deps: Deps, input: PageRequest & { name?: string | undefined }) => pageJson(await listClients(deps, input), clientJson),
  'clients.update': async (deps: Deps, input: { clientId: string; changes: Parameters<typeof updateClient>[3] }) =>
    clientJson(await updateClient(deps, cliActor(), input.clientId, input.changes)),
  'clients.rotate-secret': async (deps: Deps, input: { clientId: string; graceSeconds?: number | undefined }) =>
    withSecret(await rotateClientSecret(deps, cliActor(), input.clientId, { graceSeconds: input.graceSeconds })),
  'clients.delete': async (deps: Deps, input: { clientId: string }) => {
    await deleteClient(deps, cliActor(), input.clientId);
    return { client_id: input.clientId, deleted: true };
  },
  'resources.create': async (deps: Deps, input: Second<typeof createResource>) => resourceJson(await createResource(deps, cliActor(), input)),
  'resources.get': async (deps: Deps, input: { identifier: string }) => resourceJson(await getResource(deps, input.identifier)),
  'resources.list': async (deps: Deps, input: PageRequest) => pageJson(await listResources(deps, input), resourceJson),
  'resources.update': async (deps: Deps, input: { identifier: string; changes: Parameters<typeof updateResource>[3] }) =>
    resourceJson(await updateResource(deps, cliActor(), input.identifier, input.changes)),
  'resources.delete': async (deps: Deps, input: { identifier: string }) => {
    await deleteResource(deps, cliActor(), input.identifier);
    return { identifier: input.identifier, deleted: true };
  },
  'grants.list': async (deps: Deps, input: { userId: string }) => ({ items: (await listUserGrants(deps, input.userId)).map(grantJson), next_cursor: null }),
  'grants.revoke': async (deps: Deps, input: { grantId: string }) => grantJson(await revokeGrant(deps, cliActor(), input.grantId)),
  'initial-access-tokens.create': async (deps: Deps, input: Second<typeof createInitialAccessToken>) => {
    const { token, initialAccessToken } = await createInitialAccessToken(deps, cliActor(), input);
    return { ...initialAccessTokenJson(initialAccessToken), token };
  },
  'initial-access-tokens.list': async (deps: Deps, input: PageRequest) => pageJson(await listInitialAccessTokens(deps, input), initialAccessTokenJson),
  'initial-access-tokens.revoke': async (deps: Deps, input: { id: string }) =>
    initialAccessTokenJson(await revokeInitialAccessToken(deps, cliActor(), input.id)),
  'audit.list': async (deps: Deps, input: AuditQuery) => pageJson(await listAuditEvents(deps, input), auditEventJson),
  'keys.list': async (deps: Deps) => ({ items: (await listKeys(deps)).map(keyJson), next_cursor: null }),
  'keys.rotate': async (deps: Deps, input: Second<typeof rotateKeys>) => ({ rotated: (await rotateKeys(deps, cliActor(), input)).map(keyJson) }),
  'token-exchange-policies.create': async (deps: Deps, input: Second<typeof createTokenExchangePolicy>) =>
    tokenExchangePolicyJson(await createTokenExchangePolicy(deps, cliActor(), input)),
  'token-exchange-policies.get': async (deps: Deps, input: { id: string }) => tokenExchangePolicyJson(await getTokenExchangePolicy(deps, input.id)),
  'token-exchange-policies.list': async (deps: Deps, input: PageRequest & { clientId?: string | undefined }) =>
    pageJson(await listTokenExchangePolicies(deps, input), tokenExchangePolicyJson),
  'token-exchange-policies.delete': async (deps: Deps, input: { id: string }) => {
    await deleteTokenExchangePolicy(deps, cliActor(), input.id);
    return { id: input.id, deleted: true };
  },
  'webhooks.create': async (deps: Deps, input: Second<typeof createWebhook>) => withSigningSecret(await createWebhook(deps, cliActor(), input)),
  'webhooks.get': async (deps: Deps, input: { id: string }) => webhookJson(await getWebhook(deps, input.id)),
  'webhooks.list': async (deps: Deps, input: PageRequest) => pageJson(await listWebhooks(deps, input), webhookJson),
  'webhooks.update': async (deps: Deps, input: { id: string; changes: Parameters<typeof updateWebhook>[3] }) =>
    webhookJson(await updateWebhook(deps, cliActor(), input.id, input.changes)),
  'webhooks.rotate-secret': async (deps: Deps, input: { id: string; graceSeconds?: number | undefined }) =>
    withSigningSecret(await rotateWebhookSecret(deps, cliActor(), input.id, { graceSeconds: input.graceSeconds })),
  'webhooks.delete': async (deps: Deps, input: { id: string }) => {
    await deleteWebhook(deps, cliActor(), input.id);
    return { id: input.id, deleted: true };
  },
  'webhooks.deliveries': async (deps: Deps, input: PageRequest & { id: string }) =>
    pageJson(await listWebhookDeliveries(deps, input.id, { limit: input.limit, cursor: input.cursor }), webhookDeliveryJson),
  'upstream-providers.create': async (deps: Deps, input: Second<typeof createUpstreamProvider>) =>
    upstreamProviderJson(deps, await createUpstreamProvider(deps, cliActor(), input)),
  'upstream-providers.get': async (deps: Deps, input: { id: string }) => upstreamProviderJson(deps, await getUpstreamProvider(deps, input.id)),
  'upstream-providers.list': async (deps: Deps) => ({ items: (await listUpstreamProviders(deps)).map((provider) => upstreamProviderJson(deps, provider)), next_cursor: null }),
  'upstream-providers.update': async (deps: Deps, input: { id: string; changes: Parameters<typeof updateUpstreamProvider>[3] }) =>
    upstreamProviderJson(deps, await updateUpstreamProvider(deps, cliActor(), input.id, input.changes)),
  'upstream-providers.delete': async (deps: Deps, input: { id: string }) => {
    await deleteUpstreamProvider(deps, cliActor(), input.id);
    return { id: input.id, deleted: true };
  },
  // Just queued: it has no attempts yet.
  'webhooks.redeliver': async (deps: Deps, input: { deliveryId: string }) =>
    webhookDeliveryJson({ ...(await redeliverWebhook(deps, cliActor(), input.deliveryId)), attemptLog: [] }),
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
