import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import {
  findUsableInitialAccessToken,
  insertInitialAccessToken,
  listInitialAccessTokens as selectInitialAccessTokens,
  revokeInitialAccessToken as revokeInitialAccessTokenRow,
  type InitialAccessTokenRow,
} from '../store/initial-access-tokens.js';
import { now } from '../util/clock.js';
import { sha256 } from '../util/digest.js';
import { recordAudit, type Actor } from './audit.js';
import { isCreatedKey, keysetPage, type Page, type PageRequest } from './pagination.js';
import { displayName, parseInput } from './validation.js';

const createInput = z.object({
  description: displayName(200).optional(),
  /** Seconds until the token stops working; none means until revoked. */
  expiresIn: z
    .number({ message: 'must be a number of seconds' })
    .int({ message: 'must be whole seconds' })
    .min(60, { message: 'must be at least 60 seconds' })
    .max(365 * 86400, { message: 'must be at most 365 days' })
    .optional(),
});

export type CreateInitialAccessTokenInput = z.input<typeof createInput>;

/**
 * An initial access token lets its holder register clients at the registration endpoint
 * (RFC 7591 §3). Like client secrets it is stored only as a SHA-256 and shown once.
 */
export async function createInitialAccessToken(
  deps: Deps,
  actor: Actor,
  input: CreateInitialAccessTokenInput,
): Promise<{ token: string; initialAccessToken: InitialAccessTokenRow }> {
  const parsed = parseInput(createInput, input);
  const token = randomBytes(32).toString('base64url');
  const initialAccessToken = await deps.db.knex.transaction(async (trx) => {
    const row = await insertInitialAccessToken(trx, {
      tokenHash: sha256(token),
      description: parsed.description ?? null,
      createdBy: actor.id === null ? actor.type : `${actor.type}:${actor.id}`,
      expiresAt: parsed.expiresIn ? new Date(now().getTime() + parsed.expiresIn * 1000) : null,
    });
    await recordAudit(trx, actor, { type: 'initial_access_token.created', subject: { type: 'initial_access_token', id: row.id } });
    return row;
  });
  return { token, initialAccessToken };
}

export async function listInitialAccessTokens(deps: Deps, query: PageRequest = {}): Promise<Page<InitialAccessTokenRow>> {
  return keysetPage(
    query,
    isCreatedKey,
    (limit, after) => selectInitialAccessTokens(deps.db.knex, { limit, ...(after ? { after } : {}) }),
    (row) => row.key,
  );
}

export async function revokeInitialAccessToken(deps: Deps, actor: Actor, id: string): Promise<InitialAccessTokenRow> {
  return deps.db.knex.transaction(async (trx) => {
    const row = await revokeInitialAccessTokenRow(trx, id, now());
    if (!row) throw new LatchkeyError('initial_access_token.not_found', `no initial access token with id ${id}`);
    await recordAudit(trx, actor, { type: 'initial_access_token.revoked', subject: { type: 'initial_access_token', id } });
    return row;
  });
}

/** The token behind a presented value, if it still works. */
export async function findUsableToken(deps: Deps, token: string): Promise<InitialAccessTokenRow | undefined> {
  return findUsableInitialAccessToken(deps.db.knex, sha256(token), now());
}
