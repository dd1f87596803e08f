import type { Knex } from 'knex';
import { deleteBatch, isStorableKey, runSql } from './sql.js';

/** What a challenge was issued for; an answer is checked against the same purpose and binding. */
export type ChallengePurpose = 'register' | 'second_factor' | 'passwordless' | 'enrol';

export interface ChallengeBinding {
  purpose: ChallengePurpose;
  /** The user the ceremony is for (registration, second factor); null for a discoverable sign-in. */
  userId: string | null;
  /** The sign-in (interaction uid) it belongs to; null on the account page. */
  boundTo: string | null;
}

export async function insertChallenge(db: Knex, challenge: string, binding: ChallengeBinding, expiresAt: Date): Promise<void> {
  await db('webauthn_challenges').insert({ challenge, purpose: binding.purpose, user_id: binding.userId, bound_to: binding.boundTo, expires_at: expiresAt });
}

/**
 * Takes a challenge out, in one statement, if it was issued for exactly this purpose, user and
 * sign-in and has not expired: an answer is good once, and for nothing else.
 */
export async function takeChallenge(db: Knex, challenge: string, binding: ChallengeBinding): Promise<boolean> {
  if (!isStorableKey(challenge)) return false;
  const rows = await runSql<{ challenge: string }>(
    db,
    `DELETE FROM webauthn_challenges
     WHERE challenge = ? AND purpose = ? AND user_id IS NOT DISTINCT FROM ? AND bound_to IS NOT DISTINCT FROM ? AND expires_at > now()
     RETURNING challenge`,
    [challenge, binding.purpose, binding.userId, binding.boundTo],
  );
  return rows.length === 1;
}

/** Challenges nobody answered in time (the cleanup job). */
export async function deleteExpiredChallenges(db: Knex, now: Date, batch: number): Promise<number> {
  return deleteBatch(db, 'webauthn_challenges', 'challenge', (query) => query.where('expires_at', '<=', now), batch);
}
