import type { Knex } from 'knex';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { findClient } from '../store/clients.js';
import { findResource } from '../store/resources.js';
import {
  deletePolicy,
  findMatchingPolicy,
  findPolicy,
  insertPolicy,
  listPolicies,
  type TokenExchangePolicyRow,
} from '../store/token-exchange-policies.js';
import { TOKEN_EXCHANGE_GRANT } from './clients.js';
import { recordAudit, type Actor } from './audit.js';
import { isCreatedKey, keysetPage, type Page, type PageRequest } from './pagination.js';
import { apiScopes, resourceIdentifier } from './resources.js';
import { parseInput } from './validation.js';

/** RFC 8693 §2.1: the grant type a client names to exchange a token (a client needs it in its grant_types). */
export { TOKEN_EXCHANGE_GRANT } from './clients.js';
/** RFC 8693 §3: the only token type Latchkey takes as subject_token and issues. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

const createInput = z.object({
  clientId: z.string({ message: 'is required' }).min(1, { message: 'is required' }),
  subjectAudience: resourceIdentifier,
  targetAudience: resourceIdentifier,
  scopes: apiScopes.refine((scopes) => scopes.length > 0, { message: 'must name at least one scope' }),
});

export type CreateTokenExchangePolicyInput = z.input<typeof createInput>;

function notFound(id: string): LatchkeyError {
  return new LatchkeyError('token_exchange_policy.not_found', `no token exchange policy with id ${id}`);
}

async function assertParts(trx: Knex, input: z.output<typeof createInput>): Promise<void> {
  const client = await findClient(trx, input.clientId);
  if (!client) {
    throw new LatchkeyError('client.not_found', `no client with id ${input.clientId}`, { details: { clientId: 'is not a registered client' } });
  }
  // A policy the client could never use would look like a permission and do nothing.
  if (client.metadata.token_endpoint_auth_method === 'none' || !client.metadata.grant_types.includes(TOKEN_EXCHANGE_GRANT)) {
    throw new LatchkeyError('input.invalid', `clientId: ${input.clientId} must be a confidential client with the ${TOKEN_EXCHANGE_GRANT} grant`, {
      details: { clientId: `must be a confidential client with the ${TOKEN_EXCHANGE_GRANT} grant` },
    });
  }
  if (!(await findResource(trx, input.subjectAudience))) {
    throw new LatchkeyError('resource.not_found', `no resource with identifier ${input.subjectAudience}`, {
      details: { subjectAudience: 'is not a registered resource' },
    });
  }
  const target = await findResource(trx, input.targetAudience);
  if (!target) {
    throw new LatchkeyError('resource.not_found', `no resource with identifier ${input.targetAudience}`, {
      details: { targetAudience: 'is not a registered resource' },
    });
  }
  const foreign = input.scopes.filter((scope) => !target.scopes.includes(scope));
  if (foreign.length > 0) {
    throw new LatchkeyError('input.invalid', `scopes: ${foreign.join(', ')} is not a scope of ${input.targetAudience}`, {
      details: { scopes: `${foreign.join(', ')} is not a scope of the target API` },
    });
  }
}

/**
 * Allows `clientId` to exchange users' access tokens for `subjectAudience` for tokens for
 * `targetAudience`, with at most `scopes` (scopes of the target API).
 */
export async function createTokenExchangePolicy(deps: Deps, actor: Actor, input: CreateTokenExchangePolicyInput): Promise<TokenExchangePolicyRow> {
  const parsed = parseInput(createInput, input);
  return deps.db.knex.transaction(async (trx) => {
    await assertParts(trx, parsed);
    const policy = await insertPolicy(trx, {
      clientId: parsed.clientId,
      subjectAudience: parsed.subjectAudience,
      targetAudience: parsed.targetAudience,
      scopes: parsed.scopes,
    }).catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== '23505') throw error;
      throw new LatchkeyError('token_exchange_policy.exists', undefined, {
        details: { targetAudience: 'already has a policy for this client and subject API' },
        cause: error,
      });
    });
    await recordAudit(trx, actor, {
      type: 'token_exchange_policy.created',
      subject: { type: 'token_exchange_policy', id: policy.id },
      details: { client_id: policy.clientId, subject_audience: policy.subjectAudience, target_audience: policy.targetAudience, scopes: policy.scopes },
    });
    return policy;
  });
}

export async function getTokenExchangePolicy(deps: Deps, id: string): Promise<TokenExchangePolicyRow> {
  const policy = await findPolicy(deps.db.knex, id);
  if (!policy) throw notFound(id);
  return policy;
}

/** Oldest first; only one client's when `clientId` is given. */
export async function listTokenExchangePolicies(
  deps: Deps,
  query: PageRequest & { clientId?: string | undefined } = {},
): Promise<Page<TokenExchangePolicyRow>> {
  return keysetPage(
    query,
    isCreatedKey,
    (limit, after) => listPolicies(deps.db.knex, { limit, ...(after ? { after } : {}), ...(query.clientId ? { clientId: query.clientId } : {}) }),
    (policy) => policy.key,
  );
}

/** Exchanges stop at once; tokens already issued under the policy live until they expire. */
export async function deleteTokenExchangePolicy(deps: Deps, actor: Actor, id: string): Promise<void> {
  await deps.db.knex.transaction(async (trx) => {
    const policy = await deletePolicy(trx, id);
    if (!policy) throw notFound(id);
    await recordAudit(trx, actor, {
      type: 'token_exchange_policy.deleted',
      subject: { type: 'token_exchange_policy', id },
      details: { client_id: policy.clientId, subject_audience: policy.subjectAudience, target_audience: policy.targetAudience },
    });
  });
}

/** The policy a token exchange request falls under, if any (read on every exchange). */
export async function exchangePolicyFor(
  deps: Pick<Deps, 'db'>,
  clientId: string,
  subjectAudience: string,
  targetAudience: string,
): Promise<TokenExchangePolicyRow | undefined> {
  return findMatchingPolicy(deps.db.knex, { clientId, subjectAudience, targetAudience });
}
