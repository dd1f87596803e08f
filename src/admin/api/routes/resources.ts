import type { PageRequest } from '../../../domain/pagination.js';
import {
  createResource,
  deleteResource,
  getResource,
  listResources,
  updateResource,
  type CreateResourceInput,
  type UpdateResourceInput,
} from '../../../domain/resources.js';
import { pageJson, resourceJson } from '../../shapes.js';
import { createResourceBody, pageQuery, resourceParams, resourceRenames, updateResourceBody } from '../../schemas.js';
import { defineRoute, domainInput, type Route } from '../route.js';

const tag = 'Resources';

export const resourceRoutes: Route[] = [
  defineRoute({
    method: 'post',
    path: '/resources',
    tag,
    summary: 'Register an API (resource server)',
    body: createResourceBody,
    renames: resourceRenames,
    status: 201,
    response: 'The resource',
    handle: async ({ deps, actor, body }) => resourceJson(await createResource(deps, actor, domainInput<CreateResourceInput>(body))),
  }),
  defineRoute({
    method: 'get',
    path: '/resources',
    tag,
    summary: 'List resources by identifier',
    query: pageQuery,
    status: 200,
    response: 'A page of resources',
    handle: async ({ deps, query }) => pageJson(await listResources(deps, domainInput<PageRequest>(query)), resourceJson),
  }),
  defineRoute({
    method: 'get',
    path: '/resources/:identifier',
    tag,
    summary: 'Get a resource',
    params: resourceParams,
    status: 200,
    response: 'The resource',
    handle: async ({ deps, params }) => resourceJson(await getResource(deps, params.identifier)),
  }),
  defineRoute({
    method: 'patch',
    path: '/resources/:identifier',
    tag,
    summary: 'Change a resource; scopes taken away are taken from every client too',
    params: resourceParams,
    body: updateResourceBody,
    renames: resourceRenames,
    status: 200,
    response: 'The changed resource',
    handle: async ({ deps, actor, params, body }) =>
      resourceJson(await updateResource(deps, actor, params.identifier, domainInput<UpdateResourceInput>(body))),
  }),
  defineRoute({
    method: 'delete',
    path: '/resources/:identifier',
    tag,
    summary: 'Delete a resource; clients lose access to it',
    params: resourceParams,
    status: 204,
    response: 'Deleted',
    handle: async ({ deps, actor, params }) => deleteResource(deps, actor, params.identifier),
  }),
];
