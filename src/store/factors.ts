import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { toNumber } from './sql.js';

export interface TotpFactorRow {
  userId: string;
  secretSealed: string;
  confirmedAt: Date | null;
  lastUsedStep: number | null;
  createdAt: Date;
}

interface TotpColumns {
  user_id: string;
  secret_sealed: string;
  confirmed_at: Date | string | null;
  last_used_step: string | number | null;
  created_at: Date | string;
}

function totpFromColumns(row: TotpColumns): TotpFactorRow {
  return {
    userId: row.user_id,
    secretSealed: row.secret_sealed,
    confirmedAt: row.confirmed_at === null ? null : new Date(row.confirmed_at),
    lastUsedStep: row.last_used_step === null ? null : toNumber(row.last_used_step),
    createdAt: new Date(row.created_at),
  };
}

export async function findTotpFactor(db: Knex, userId: string): Promise<TotpFactorRow | undefined> {
  const row = await db<TotpColumns>('totp_factors').where({ user_id: userId }).first();
  return row ? totpFromColumns(row) : undefined;
}

/** A new secret waiting for its first code; replaces one that was never confirmed, never a confirmed one. */
export async function savePendingTotp(db: Knex, userId: string, secretSealed: string): Promise<boolean> {
  const result = await db.raw(
    `INSERT INTO totp_factors (user_id, secret_sealed) VALUES (?, ?)
     ON CONFLICT (user_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, created_at = now(), last_used_step = NULL
     WHERE totp_factors.confirmed_at IS NULL
     RETURNING user_id`,
    [userId, secretSealed],
  );
  return (result.rows as unknown[]).length === 1;
}

/**
 * Records that the code of `step` was used, in one statement: of two requests presenting the
 * same code (on two nodes), one wins. `confirm` also marks a pending secret as confirmed.
 */
export async function claimTotpStep(db: Knex, userId: string, step: number, options: { confirm: boolean }): Promise<boolean> {
  const query = db('totp_factors')
    .where({ user_id: userId })
    .andWhere((where) => where.whereNull('last_used_step').orWhere('last_used_step', '<', step))
    .update({ last_used_step: step, ...(options.confirm ? { confirmed_at: db.fn.now() } : {}) });
  if (options.confirm) query.whereNull('confirmed_at');
  else query.whereNotNull('confirmed_at');
  return (await query) === 1;
}

export async function deleteTotpFactor(db: Knex, userId: string): Promise<boolean> {
  return (await db('totp_factors').where({ user_id: userId }).delete().returning('user_id')).length > 0;
}

/** Replaces every recovery code of the user with these digests. */
export async function replaceRecoveryCodes(db: Knex, userId: string, codeHashes: string[]): Promise<void> {
  await db('recovery_codes').where({ user_id: userId }).delete();
  await db('recovery_codes').insert(codeHashes.map((codeHash) => ({ id: randomUUID(), user_id: userId, code_hash: codeHash })));
}

/** Marks an unused code used, in one statement, so a code works once even when sent twice at once. */
export async function useRecoveryCode(db: Knex, userId: string, codeHash: string): Promise<boolean> {
  return (await db('recovery_codes').where({ user_id: userId, code_hash: codeHash }).whereNull('used_at').update({ used_at: db.fn.now() })) === 1;
}

export async function deleteRecoveryCodes(db: Knex, userId: string): Promise<number> {
  return (await db('recovery_codes').where({ user_id: userId }).delete().returning('id')).length;
}

/** What a user has enrolled, in one round trip. */
export interface FactorCounts {
  totp: boolean;
  passkeys: number;
  recoveryCodesLeft: number;
}

export async function countFactors(db: Knex, userId: string): Promise<FactorCounts> {
  const result = await db.raw(
    `SELECT
       EXISTS (SELECT 1 FROM totp_factors WHERE user_id = ? AND confirmed_at IS NOT NULL) AS totp,
       (SELECT count(*) FROM passkeys WHERE user_id = ?) AS passkeys,
       (SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL) AS recovery_codes_left`,
    [userId, userId, userId],
  );
  const row = (result.rows as Array<{ totp: boolean; passkeys: unknown; recovery_codes_left: unknown }>)[0]!;
  return { totp: row.totp, passkeys: toNumber(row.passkeys), recoveryCodesLeft: toNumber(row.recovery_codes_left) };
}

/** Removes every second factor of the user: the admin's reset for a lost device. */
export async function deleteAllFactors(db: Knex, userId: string): Promise<{ totp: number; passkeys: number; recoveryCodes: number }> {
  // Counted from RETURNING: a bare delete's count is not a number on every driver (PGlite). An
  // app still waiting for its first code goes too, but was never a factor.
  const totp = (await db<TotpColumns>('totp_factors').where({ user_id: userId }).delete().returning('confirmed_at')).filter((row) => row.confirmed_at !== null).length;
  const passkeys = (await db('passkeys').where({ user_id: userId }).delete().returning('id')).length;
  const recoveryCodes = await deleteRecoveryCodes(db, userId);
  return { totp, passkeys, recoveryCodes };
}
