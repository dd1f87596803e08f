import type { PageRequest } from '../../../domain/pagination.js';
import {
  createTokenExchangePolicy,
  deleteTokenExchangePolicy,
  getTokenExchangePolicy,
  listTokenExchangePolicies,
  type CreateTokenExchangePolicyInput,
} from '../../../domain/token-exchange.js';
import { pageJson, tokenExchangePolicyJson } from '../../shapes.js';
import { createTokenExchangePolicyBody, idParams, tokenExchangePoliciesQuery, tokenExchangePolicyRenames } from '../../schemas.js';
import { defineRoute, domainInput, type Route } from '../route.js';

const tag = 'Token exchange';

export const tokenExchangePolicyRoutes: Route[] = [
  defineRoute({
    method: 'post',
    path: '/token-exchange-policies',
    tag,
    summary:
      "Allow a client to exchange users' access tokens for one API (subject_audience) for tokens for another (target_audience), with at most the given scopes (RFC 8693); nothing is exchangeable without a policy",
    body: createTokenExchangePolicyBody,
    renames: tokenExchangePolicyRenames,
    status: 201,
    response: 'The policy',
    handle: async ({ deps, actor, body }) =>
      tokenExchangePolicyJson(await createTokenExchangePolicy(deps, actor, domainInput<CreateTokenExchangePolicyInput>(body))),
  }),
  defineRoute({
    method: 'get',
    path: '/token-exchange-policies',
    tag,
    summary: 'List token exchange policies, oldest first',
    query: tokenExchangePoliciesQuery,
    status: 200,
    response: 'A page of policies',
    handle: async ({ deps, query }) =>
      pageJson(await listTokenExchangePolicies(deps, domainInput<PageRequest & { clientId?: string }>(query)), tokenExchangePolicyJson),
  }),
  defineRoute({
    method: 'get',
    path: '/token-exchange-policies/:id',
    tag,
    summary: 'Get a token exchange policy',
    params: idParams,
    status: 200,
    response: 'The policy',
    handle: async ({ deps, params }) => tokenExchangePolicyJson(await getTokenExchangePolicy(deps, params.id)),
  }),
  defineRoute({
    method: 'delete',
    path: '/token-exchange-policies/:id',
    tag,
    summary: 'Delete a token exchange policy; exchanges under it stop at once, tokens already issued live until they expire',
    params: idParams,
    status: 204,
    response: 'Deleted',
    handle: async ({ deps, actor, params }) => deleteTokenExchangePolicy(deps, actor, params.id),
  }),
];
