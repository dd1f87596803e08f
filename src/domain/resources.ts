import { z } from 'zod';
import type { Knex } from 'knex';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { bumpChangeCounter } from '../store/change-counters.js';
import { findClient } from '../store/clients.js';
import { mapUniqueViolation } from '../store/sql.js';
import { insertResource, listResources as selectResources, type ResourceRow } from '../store/resources.js';
import { isOidcScope, isScopeToken, splitScopes } from './scopes.js';
import { isResourceIdentifier } from './uris.js';
import { clampLimit, parseInput } from './validation.js';

export const apiScopes = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => splitScopes(value))
  .superRefine((scopes, ctx) => {
    for (const scope of scopes) {
      if (!isScopeToken(scope)) ctx.addIssue({ code: 'custom', message: `"${scope}" is not a valid scope` });
      else if (isOidcScope(scope)) ctx.addIssue({ code: 'custom', message: `"${scope}" is an OpenID Connect scope, not an API scope` });
    }
  });

export const resourceIdentifier = z
  .string({ message: 'is required' })
  .refine(isResourceIdentifier, { message: 'must be an absolute http(s) URI without a fragment' });

const createResourceInput = z.object({
  identifier: resourceIdentifier,
  scopes: apiScopes.refine((scopes) => scopes.length > 0, { message: 'must name at least one scope' }),
  accessTokenFormat: z.enum(['jwt', 'opaque'], { message: 'must be jwt or opaque' }).default('jwt'),
  accessTokenTtl: z.number().int({ message: 'must be whole seconds' }).min(1, { message: 'must be at least one second' }).max(86400, { message: 'must be at most a day' }).optional(),
  introspectionClientId: z.string().min(1).optional(),
});

export type CreateResourceInput = z.input<typeof createResourceInput>;

export async function createResource(deps: Deps, input: CreateResourceInput): Promise<ResourceRow> {
  const parsed = parseInput(createResourceInput, input);
  const resource = await deps.db.knex.transaction(async (trx) => {
    if (parsed.introspectionClientId && !(await findClient(trx, parsed.introspectionClientId))) {
      throw new LatchkeyError('client.not_found', `no client with id ${parsed.introspectionClientId}`, {
        details: { introspectionClientId: 'is not a registered client' },
      });
    }
    return insertResourceRow(trx, {
      identifier: parsed.identifier,
      scopes: parsed.scopes,
      accessTokenFormat: parsed.accessTokenFormat,
      accessTokenTtl: parsed.accessTokenTtl ?? null,
      introspectionClientId: parsed.introspectionClientId ?? null,
    });
  });
  deps.catalog.invalidate('resources');
  return resource;
}

/** Inserts within the caller's transaction and marks resources as changed for every process. */
export async function insertResourceRow(trx: Knex, resource: Parameters<typeof insertResource>[1]): Promise<ResourceRow> {
  const row = await mapUniqueViolation(insertResource(trx, resource), 'resource.exists', 'identifier');
  await bumpChangeCounter(trx, 'resources');
  return row;
}

export async function listResources(deps: Deps, options: { limit?: number } = {}): Promise<ResourceRow[]> {
  return selectResources(deps.db.knex, { limit: clampLimit(options.limit) });
}
