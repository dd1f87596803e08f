import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Deps } from '../../deps.js';
import { countFactors, replaceRecoveryCodes, useRecoveryCode as markUsed } from '../../store/factors.js';
import { sha256 } from '../../util/digest.js';
import { recordAudit, type Actor } from '../audit.js';

export const RECOVERY_CODE_COUNT = 10;

/** Crockford's base32 without the letters people misread: 16 characters carry 80 bits. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function newCode(): string {
  const bytes = randomBytes(16);
  const characters = [...bytes].map((byte) => ALPHABET[byte % 32]).join('');
  return characters.match(/.{4}/g)!.join('-');
}

/** Upper case without separators, with the letters people mistake for digits read as the digits. */
function normaliseCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

/**
 * Ten new codes, replacing any the user had. Only their SHA-256 is kept: 80 random bits each
 * make a slow hash unnecessary. The plaintext is returned to be shown once.
 */
export async function issueRecoveryCodes(db: Knex, actor: Actor, userId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
  await replaceRecoveryCodes(db, userId, codes.map((code) => sha256(normaliseCode(code))));
  await recordAudit(db, actor, { type: 'user.recovery_codes_issued', subject: { type: 'user', id: userId }, details: { count: codes.length } });
  return codes;
}

/** Codes for a user enrolling their first factor; undefined when they still have unused ones. */
export async function ensureRecoveryCodes(db: Knex, actor: Actor, userId: string): Promise<string[] | undefined> {
  const { recoveryCodesLeft } = await countFactors(db, userId);
  return recoveryCodesLeft > 0 ? undefined : issueRecoveryCodes(db, actor, userId);
}

/** Uses a code once; returns how many are left, or undefined when the code is not one of the user's unused codes. */
export async function redeemRecoveryCode(deps: Deps, actor: Actor, userId: string, code: string): Promise<number | undefined> {
  const normalised = normaliseCode(code);
  if (normalised.length !== 16) return undefined;
  return deps.db.knex.transaction(async (trx) => {
    if (!(await markUsed(trx, userId, sha256(normalised)))) return undefined;
    const { recoveryCodesLeft } = await countFactors(trx, userId);
    await recordAudit(trx, actor, { type: 'user.recovery_code_used', subject: { type: 'user', id: userId }, details: { left: recoveryCodesLeft } });
    return recoveryCodesLeft;
  });
}
