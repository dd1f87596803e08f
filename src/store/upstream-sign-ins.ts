import type { Knex } from 'knex';
import { deleteBatch, isStorableKey } from './sql.js';

/** A trip to an upstream provider in progress, found again by the digest of its state. */
export interface UpstreamSignInRow {
  stateHash: string;
  providerId: string;
  interactionUid: string;
  browserHash: string;
  sealedCodeVerifier: string;
  nonce: string;
  expiresAt: Date;
}

interface SignInColumns {
  state_hash: string;
  provider_id: string;
  interaction_uid: string;
  browser_hash: string;
  code_verifier_sealed: string;
  nonce: string;
  expires_at: Date | string;
}

export async function insertUpstreamSignIn(db: Knex, row: UpstreamSignInRow): Promise<void> {
  await db('upstream_sign_ins').insert({
    state_hash: row.stateHash,
    provider_id: row.providerId,
    interaction_uid: row.interactionUid,
    browser_hash: row.browserHash,
    code_verifier_sealed: row.sealedCodeVerifier,
    nonce: row.nonce,
    expires_at: row.expiresAt,
  });
}

/** Takes the trip out, for the browser that started it only: a state is good once, whatever comes of it. */
export async function consumeUpstreamSignIn(db: Knex, stateHash: string, browserHash: string): Promise<UpstreamSignInRow | undefined> {
  if (!isStorableKey(stateHash)) return undefined;
  const [row] = (await db('upstream_sign_ins').where({ state_hash: stateHash, browser_hash: browserHash }).delete().returning('*')) as SignInColumns[];
  if (!row) return undefined;
  return {
    stateHash: row.state_hash,
    providerId: row.provider_id,
    interactionUid: row.interaction_uid,
    browserHash: row.browser_hash,
    sealedCodeVerifier: row.code_verifier_sealed,
    nonce: row.nonce,
    expiresAt: new Date(row.expires_at),
  };
}

/** Trips abandoned upstream, for the cleanup job. */
export async function deleteExpiredUpstreamSignIns(db: Knex, now: Date, batch: number): Promise<number> {
  return deleteBatch(db, 'upstream_sign_ins', 'state_hash', (query) => query.where('expires_at', '<=', now), batch);
}
