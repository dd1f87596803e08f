import { z } from 'zod';
import type { Config } from '../../config.js';
import { ADMIN_SCOPE, adminResourceIdentifier } from '../../domain/admin-access.js';
import { defineRoute, type Route } from './route.js';

export const API_PREFIX = '/admin/api/v1';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType): JsonSchema {
  // Requests are described as clients write them: before defaults and coercion.
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** `/clients/:id` -> `/clients/{id}` */
export function openApiPath(koaPath: string): string {
  return koaPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parameters(schema: z.ZodObject<z.ZodRawShape> | undefined, location: 'path' | 'query') {
  if (!schema) return [];
  const object = jsonSchema(schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: location,
      required: location === 'path' || (object.required ?? []).includes(name),
      ...(description !== undefined ? { description } : {}),
      schema: rest,
    };
  });
}

const errorRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

function operation(route: Route) {
  const body = route.body ? (jsonSchema(route.body) as JsonSchema & { required?: string[] }) : undefined;
  const errors = {
    ...(route.body || route.query || route.upload ? { 400: errorRef('Invalid') } : {}),
    ...(route.public ? {} : { 401: errorRef('Unauthenticated'), 403: errorRef('Forbidden') }),
    ...(route.params ? { 404: errorRef('NotFound') } : {}),
    ...(route.body ? { 409: errorRef('Conflict') } : {}),
  };
  return {
    tags: [route.tag],
    summary: route.summary,
    ...(route.public ? { security: [] } : {}),
    parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
    ...(body
      ? { requestBody: { required: (body.required ?? []).length > 0, content: { 'application/json': { schema: body } } } }
      : {}),
    ...(route.upload
      ? { requestBody: { required: true, content: Object.fromEntries(Object.entries(route.upload.types).map(([type, schema]) => [type, { schema }])) } }
      : {}),
    responses: {
      [route.status]:
        route.status === 204
          ? { description: route.response }
          : { description: route.response, content: { 'application/json': { schema: { type: 'object' } } } },
      ...errors,
    },
  };
}

const errorSchema = {
  type: 'object',
  required: ['error', 'error_description', 'code'],
  properties: {
    error: { type: 'string', description: 'An OAuth error code' },
    error_description: { type: 'string' },
    code: { type: 'string', description: "Latchkey's own error code, such as input.invalid" },
    details: { type: 'object', additionalProperties: { type: 'string' }, description: 'Bad field (as sent) -> what is wrong with it' },
  },
};

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });

/** The OpenAPI 3.1 document of exactly these routes. */
export function openApiDocument(routes: Route[], config: Pick<Config, 'http'>) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    (paths[openApiPath(route.path)] ??= {})[route.method] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Latchkey admin API',
      version: '1',
      description: `Manage clients, users, APIs, grants, initial access tokens, signing keys, webhooks and upstream identity providers, and read the audit log. Bodies are JSON in snake_case; lists return { items, next_cursor } and take limit and cursor.`,
    },
    servers: [{ url: `${config.http.issuer}${API_PREFIX}` }],
    tags: [...new Set(routes.map((route) => route.tag))].map((name) => ({ name })),
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: `An access token issued by this server for the resource ${adminResourceIdentifier(config)} with the scope ${ADMIN_SCOPE}, held by an admin user or a client with admin access.`,
        },
      },
      schemas: { Error: errorSchema },
      responses: {
        Invalid: errorResponse('The request is not valid; details names each bad field'),
        Unauthenticated: errorResponse('No valid admin access token (see WWW-Authenticate)'),
        Forbidden: errorResponse('The token does not grant admin access (see WWW-Authenticate)'),
        NotFound: errorResponse('No such object'),
        Conflict: errorResponse('The change conflicts with what exists'),
      },
    },
  };
}

/** The routes with the public route serving their document, which describes itself too. */
export function withOpenApiRoute(routes: Route[]): Route[] {
  let document: unknown;
  const all: Route[] = [
    ...routes,
    defineRoute({
      method: 'get',
      path: '/openapi.json',
      tag: 'Meta',
      summary: 'This OpenAPI 3.1 document',
      public: true,
      status: 200,
      response: 'The OpenAPI document',
      handle: async ({ deps }) => (document ??= openApiDocument(all, deps.config)),
    }),
  ];
  return all;
}
