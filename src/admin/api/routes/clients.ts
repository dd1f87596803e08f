import {
  createClient,
  deleteClient,
  getClient,
  listClients,
  rotateClientSecret,
  updateClient,
  type ClientWithSecret,
  type CreateClientInput,
  type UpdateClientInput,
} from '../../../domain/clients.js';
import type { PageRequest } from '../../../domain/pagination.js';
import { clientJson, pageJson } from '../../shapes.js';
import { clientRenames, clientsQuery, createClientBody, idParams, rotateSecretBody, updateClientBody } from '../../schemas.js';
import { defineRoute, domainInput, type Route } from '../route.js';

/** The client, and its new secret when it has one: the only time anyone sees it. */
function withSecret({ client, clientSecret }: ClientWithSecret) {
  return { ...clientJson(client), ...(clientSecret !== undefined ? { client_secret: clientSecret } : {}) };
}

const tag = 'Clients';

export const clientRoutes: Route[] = [
  defineRoute({
    method: 'post',
    path: '/clients',
    tag,
    summary: 'Register a client',
    body: createClientBody,
    renames: clientRenames,
    status: 201,
    response: 'The client; client_secret (confidential clients) is shown only in this response',
    handle: async ({ deps, actor, body }) => withSecret(await createClient(deps, actor, domainInput<CreateClientInput>(body))),
  }),
  defineRoute({
    method: 'get',
    path: '/clients',
    tag,
    summary: 'List clients, oldest first',
    query: clientsQuery,
    status: 200,
    response: 'A page of clients',
    handle: async ({ deps, query }) => pageJson(await listClients(deps, domainInput<PageRequest & { name?: string }>(query)), clientJson),
  }),
  defineRoute({
    method: 'get',
    path: '/clients/:id',
    tag,
    summary: 'Get a client',
    params: idParams,
    status: 200,
    response: 'The client (never its secret)',
    handle: async ({ deps, params }) => clientJson(await getClient(deps, params.id)),
  }),
  defineRoute({
    method: 'patch',
    path: '/clients/:id',
    tag,
    summary: 'Change some settings of a client; null clears an optional one',
    params: idParams,
    body: updateClientBody,
    renames: clientRenames,
    status: 200,
    response: 'The changed client',
    handle: async ({ deps, actor, params, body }) => clientJson(await updateClient(deps, actor, params.id, domainInput<UpdateClientInput>(body))),
  }),
  defineRoute({
    method: 'post',
    path: '/clients/:id/rotate-secret',
    tag,
    summary: 'Issue a new client secret; the old one works for grace_seconds more',
    params: idParams,
    body: rotateSecretBody,
    status: 200,
    response: 'The client with its new client_secret, shown only in this response',
    handle: async ({ deps, actor, params, body }) =>
      withSecret(await rotateClientSecret(deps, actor, params.id, domainInput<{ graceSeconds?: number }>(body))),
  }),
  defineRoute({
    method: 'delete',
    path: '/clients/:id',
    tag,
    summary: 'Delete a client with its grants and stored tokens',
    params: idParams,
    status: 204,
    response: 'Deleted',
    handle: async ({ deps, actor, params }) => deleteClient(deps, actor, params.id),
  }),
];
