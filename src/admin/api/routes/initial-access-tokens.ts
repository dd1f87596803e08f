import {
  createInitialAccessToken,
  listInitialAccessTokens,
  revokeInitialAccessToken,
  type CreateInitialAccessTokenInput,
} from '../../../domain/initial-access-tokens.js';
import type { PageRequest } from '../../../domain/pagination.js';
import { initialAccessTokenJson, pageJson } from '../../shapes.js';
import { createInitialAccessTokenBody, idParams, pageQuery } from '../../schemas.js';
import { defineRoute, domainInput, type Route } from '../route.js';

const tag = 'Initial access tokens';

export const initialAccessTokenRoutes: Route[] = [
  defineRoute({
    method: 'post',
    path: '/initial-access-tokens',
    tag,
    summary: 'Create an initial access token for dynamic client registration (RFC 7591)',
    body: createInitialAccessTokenBody,
    status: 201,
    response: 'The token record and the token itself, shown only in this response',
    handle: async ({ deps, actor, body }) => {
      const { token, initialAccessToken } = await createInitialAccessToken(deps, actor, domainInput<CreateInitialAccessTokenInput>(body));
      return { ...initialAccessTokenJson(initialAccessToken), token };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/initial-access-tokens',
    tag,
    summary: 'List initial access tokens, oldest first',
    query: pageQuery,
    status: 200,
    response: 'A page of initial access tokens (never the tokens themselves)',
    handle: async ({ deps, query }) => pageJson(await listInitialAccessTokens(deps, domainInput<PageRequest>(query)), initialAccessTokenJson),
  }),
  defineRoute({
    method: 'delete',
    path: '/initial-access-tokens/:id',
    tag,
    summary: 'Revoke an initial access token',
    params: idParams,
    status: 204,
    response: 'Revoked',
    handle: async ({ deps, actor, params }) => {
      await revokeInitialAccessToken(deps, actor, params.id);
    },
  }),
];
