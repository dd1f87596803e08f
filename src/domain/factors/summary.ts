import type { Deps } from '../../deps.js';
import { LatchkeyError } from '../../errors.js';
import type { Knex } from 'knex';
import { countFactors, deleteAllFactors, deleteRecoveryCodes, type FactorCounts } from '../../store/factors.js';
import { findUserById } from '../../store/users.js';
import { recordAudit, type Actor } from '../audit.js';

export type { FactorCounts };

/** What a user can prove a second factor with. Recovery codes only stand in for the others. */
export async function factorsOf(deps: Deps, userId: string): Promise<FactorCounts> {
  return countFactors(deps.db.knex, userId);
}

export function hasSecondFactor(factors: FactorCounts): boolean {
  return factors.totp || factors.passkeys > 0;
}

/**
 * The admin's answer to a lost phone or key: every second factor and recovery code goes, and
 * the user signs in with their password (and enrols again where MFA is required). Sessions are
 * left alone: the user is not suspected, their device is gone.
 */
export async function resetFactors(deps: Deps, actor: Actor, userId: string): Promise<{ totp: boolean; passkeys: number; recoveryCodes: number }> {
  return deps.db.knex.transaction(async (trx) => {
    if (!(await findUserById(trx, userId))) throw new LatchkeyError('user.not_found');
    const removed = await deleteAllFactors(trx, userId);
    await recordAudit(trx, actor, { type: 'user.factors_reset', subject: { type: 'user', id: userId }, details: { totp: removed.totp > 0, passkeys: removed.passkeys, recovery_codes: removed.recoveryCodes } });
    return { totp: removed.totp > 0, passkeys: removed.passkeys, recoveryCodes: removed.recoveryCodes };
  });
}

/** Recovery codes stand in for a factor; with the last factor removed, they would be a way around nothing. */
export async function dropRecoveryCodesWithoutFactor(db: Knex, userId: string): Promise<void> {
  if (!hasSecondFactor(await countFactors(db, userId))) await deleteRecoveryCodes(db, userId);
}
