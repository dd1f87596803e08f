import { z } from 'zod';
import type { Knex } from 'knex';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { bumpChangeCounters } from '../store/change-counters.js';
import { findClient } from '../store/clients.js';
import { mapUniqueViolation } from '../store/sql.js';
import {
  deleteResource as deleteResourceRow,
  findResource,
  insertResource,
  listResources as selectResources,
  restrictClientScopes,
  updateResource as updateResourceRow,
  type ResourceChanges,
  type ResourceRow,
} from '../store/resources.js';
import { ADMIN_SCOPE, adminResourceIdentifier } from './admin-access.js';
import { recordAudit, type Actor } from './audit.js';
import { isString, keysetPage, type Page, type PageRequest } from './pagination.js';
import { isOidcScope, isScopeToken, splitScopes } from './scopes.js';
import { isResourceIdentifier } from './uris.js';
import { parseInput } from './validation.js';

export const apiScopes = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => splitScopes(value))
  .superRefine((scopes, ctx) => {
    for (const scope of scopes) {
      if (!isScopeToken(scope)) ctx.addIssue({ code: 'custom', message: `"${scope}" is not a valid scope` });
      else if (isOidcScope(scope)) ctx.addIssue({ code: 'custom', message: `"${scope}" is an OpenID Connect scope, not an API scope` });
      else if (scope === ADMIN_SCOPE) ctx.addIssue({ code: 'custom', message: `"${scope}" belongs to Latchkey's admin API` });
    }
  });

export const resourceIdentifier = z
  .string({ message: 'is required' })
  .refine(isResourceIdentifier, { message: 'must be an absolute https URI without a fragment (http only for localhost)' });

const nonEmptyScopes = apiScopes.refine((scopes) => scopes.length > 0, { message: 'must name at least one scope' });
const accessTokenFormat = z.enum(['jwt', 'opaque'], { message: 'must be jwt or opaque' });
const accessTokenTtl = z
  .number({ message: 'must be a number of seconds' })
  .int({ message: 'must be whole seconds' })
  .min(1, { message: 'must be at least one second' })
  .max(86400, { message: 'must be at most a day' });
const clientId = z.string().min(1, { message: 'is required' });

const createResourceInput = z.object({
  identifier: resourceIdentifier,
  scopes: nonEmptyScopes,
  accessTokenFormat: accessTokenFormat.default('jwt'),
  accessTokenTtl: accessTokenTtl.optional(),
  introspectionClientId: clientId.optional(),
});

// null clears the TTL (back to the default) or the introspection client.
const updateResourceInput = z
  .object({
    scopes: nonEmptyScopes.optional(),
    accessTokenFormat: accessTokenFormat.optional(),
    accessTokenTtl: accessTokenTtl.nullable().optional(),
    introspectionClientId: clientId.nullable().optional(),
  })
  .strict();

export type CreateResourceInput = z.input<typeof createResourceInput>;
export type UpdateResourceInput = z.input<typeof updateResourceInput>;

function resourceNotFound(identifier: string): LatchkeyError {
  return new LatchkeyError('resource.not_found', `no resource with identifier ${identifier}`);
}

function assertNotReserved(deps: Deps, identifier: string): void {
  if (identifier === adminResourceIdentifier(deps.config)) throw new LatchkeyError('resource.reserved');
}

async function assertClientExists(trx: Knex, id: string | null | undefined): Promise<void> {
  if (id && !(await findClient(trx, id))) {
    throw new LatchkeyError('client.not_found', `no client with id ${id}`, { details: { introspectionClientId: 'is not a registered client' } });
  }
}

export async function createResource(deps: Deps, actor: Actor, input: CreateResourceInput): Promise<ResourceRow> {
  const parsed = parseInput(createResourceInput, input);
  assertNotReserved(deps, parsed.identifier);
  const resource = await deps.db.knex.transaction(async (trx) => {
    await assertClientExists(trx, parsed.introspectionClientId);
    const row = await insertResourceRow(trx, {
      identifier: parsed.identifier,
      scopes: parsed.scopes,
      accessTokenFormat: parsed.accessTokenFormat,
      accessTokenTtl: parsed.accessTokenTtl ?? null,
      introspectionClientId: parsed.introspectionClientId ?? null,
    });
    await recordAudit(trx, actor, { type: 'resource.created', subject: { type: 'resource', id: row.identifier } });
    await bumpChangeCounters(trx, 'resources');
    return row;
  });
  deps.catalog.invalidate('resources');
  return resource;
}

/** Inserts within the caller's transaction, which bumps the resources counter when it ends. */
export async function insertResourceRow(trx: Knex, resource: Parameters<typeof insertResource>[1]): Promise<ResourceRow> {
  return mapUniqueViolation(insertResource(trx, resource), 'resource.exists', 'identifier');
}

export async function getResource(deps: Deps, identifier: string): Promise<ResourceRow> {
  const resource = await findResource(deps.db.knex, identifier);
  if (!resource) throw resourceNotFound(identifier);
  return resource;
}

/** By identifier. */
export async function listResources(deps: Deps, query: PageRequest = {}): Promise<Page<ResourceRow>> {
  return keysetPage(
    query,
    isString,
    (limit, after) => selectResources(deps.db.knex, { limit, ...(after !== undefined ? { after } : {}) }),
    (resource) => resource.identifier,
  );
}

/** Scopes taken away from the API are taken away from every client allowed them too. */
export async function updateResource(deps: Deps, actor: Actor, identifier: string, input: UpdateResourceInput): Promise<ResourceRow> {
  const parsed = parseInput(updateResourceInput, input);
  assertNotReserved(deps, identifier);
  const resource = await deps.db.knex.transaction(async (trx) => {
    await assertClientExists(trx, parsed.introspectionClientId);
    const changes: ResourceChanges = {};
    if (parsed.scopes !== undefined) changes.scopes = parsed.scopes;
    if (parsed.accessTokenFormat !== undefined) changes.accessTokenFormat = parsed.accessTokenFormat;
    if (parsed.accessTokenTtl !== undefined) changes.accessTokenTtl = parsed.accessTokenTtl;
    if (parsed.introspectionClientId !== undefined) changes.introspectionClientId = parsed.introspectionClientId;
    const row = await updateResourceRow(trx, identifier, changes);
    if (!row) throw resourceNotFound(identifier);
    if (parsed.scopes) await restrictClientScopes(trx, identifier, parsed.scopes);
    await bumpChangeCounters(trx, 'resources', ...(parsed.scopes ? (['clients'] as const) : []));
    await recordAudit(trx, actor, {
      type: 'resource.updated',
      subject: { type: 'resource', id: identifier },
      details: { changed: Object.keys(input).map((key) => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)) },
    });
    return row;
  });
  deps.catalog.invalidate('resources');
  deps.catalog.invalidate('clients');
  return resource;
}

/** Clients lose access to the API; tokens already issued for it live until they expire. */
export async function deleteResource(deps: Deps, actor: Actor, identifier: string): Promise<void> {
  assertNotReserved(deps, identifier);
  await deps.db.knex.transaction(async (trx) => {
    if (!(await deleteResourceRow(trx, identifier))) throw resourceNotFound(identifier);
    await bumpChangeCounters(trx, 'clients', 'resources');
    await recordAudit(trx, actor, { type: 'resource.deleted', subject: { type: 'resource', id: identifier } });
  });
  deps.catalog.invalidate('resources');
  deps.catalog.invalidate('clients');
}
