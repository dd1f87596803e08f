import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import type { Deps } from '../../deps.js';
import { LatchkeyError } from '../../errors.js';
import { claimTotpStep, deleteTotpFactor, findTotpFactor, savePendingTotp } from '../../store/factors.js';
import type { UserRow } from '../../store/users.js';
import { now } from '../../util/clock.js';
import { recordAudit, type Actor } from '../audit.js';
import { ensureRecoveryCodes } from './recovery-codes.js';
import { dropRecoveryCodesWithoutFactor } from './summary.js';

/** What the enrolment page shows: the secret as text and as a QR code an authenticator app scans. */
export interface TotpEnrolment {
  secret: string;
  uri: string;
  /** An SVG drawn on the server: no image service ever sees the secret. */
  qrSvg: string;
}

/** Bound to the user, so a sealed secret copied onto another user's row does not open there. */
const sealContext = (userId: string) => `totp secret ${userId}`;

/**
 * How long a secret waits for its first code. A secret shown and abandoned (or shown to someone
 * holding only the password) must not be the one the user confirms much later.
 */
const PENDING_SECONDS = 600;

/** Codes one step early or late still count: phones' clocks drift. */
const TOLERANCE_SECONDS = 30;

/** Six digits, however the user spaced them. */
function normaliseCode(code: string): string | undefined {
  const digits = code.replace(/[\s-]/g, '');
  return /^\d{6}$/.test(digits) ? digits : undefined;
}

/**
 * Starts enrolling an authenticator app: a new secret, sealed under the master key, replacing any
 * earlier one not confirmed, that counts only once confirmed with a code. A user who has one must
 * remove it first. Every enrolment page shows a new secret.
 */
export async function startTotpEnrolment(deps: Deps, user: Pick<UserRow, 'id' | 'email'>): Promise<TotpEnrolment> {
  const secret = generateSecret();
  if (!(await savePendingTotp(deps.db.knex, user.id, deps.sealer.seal(secret, sealContext(user.id))))) {
    throw new LatchkeyError('input.invalid', 'An authenticator app is already set up. Remove it before setting up another.');
  }
  return enrolmentOf(deps, user, secret);
}

function isFresh(factor: { createdAt: Date }): boolean {
  return now().getTime() - factor.createdAt.getTime() < PENDING_SECONDS * 1000;
}

/** The enrolment in progress, shown again after a refused first code, while it is fresh. */
export async function pendingTotpEnrolment(deps: Deps, user: Pick<UserRow, 'id' | 'email'>): Promise<TotpEnrolment | undefined> {
  const factor = await findTotpFactor(deps.db.knex, user.id);
  if (!factor || factor.confirmedAt || !isFresh(factor)) return undefined;
  return enrolmentOf(deps, user, deps.sealer.open(factor.secretSealed, sealContext(user.id)));
}

async function enrolmentOf(deps: Deps, user: Pick<UserRow, 'email'>, secret: string): Promise<TotpEnrolment> {
  const uri = generateURI({ issuer: deps.config.theme.name, label: user.email, secret });
  const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { secret, uri, qrSvg };
}

/** The time step a code matches, if it matches one within the tolerance. */
async function matchingStep(secret: string, code: string): Promise<number | undefined> {
  const token = normaliseCode(code);
  if (!token) return undefined;
  const result = await verify({ secret, token, epoch: Math.floor(now().getTime() / 1000), epochTolerance: TOLERANCE_SECONDS });
  return result.valid && 'timeStep' in result ? result.timeStep : undefined;
}

/**
 * Confirms a pending enrolment with its first code. Returns the recovery codes to show once
 * when this is the user's first factor (undefined when they already have codes).
 */
export async function confirmTotpEnrolment(deps: Deps, actor: Actor, userId: string, code: string): Promise<{ recoveryCodes: string[] | undefined }> {
  const factor = await findTotpFactor(deps.db.knex, userId);
  if (!factor || factor.confirmedAt || !isFresh(factor)) throw new LatchkeyError('input.invalid', 'Start setting up the authenticator app again.');
  const step = await matchingStep(deps.sealer.open(factor.secretSealed, sealContext(userId)), code);
  if (step === undefined) throw new LatchkeyError('input.invalid', 'That code is not right. Enter the 6-digit code your app shows now.', { details: { code: 'is not the code the app shows' } });
  return deps.db.knex.transaction(async (trx) => {
    if (!(await claimTotpStep(trx, userId, step, { confirm: true }))) {
      throw new LatchkeyError('input.invalid', 'Start setting up the authenticator app again.');
    }
    await recordAudit(trx, actor, { type: 'user.factor_added', subject: { type: 'user', id: userId }, details: { factor: 'totp' } });
    return { recoveryCodes: await ensureRecoveryCodes(trx, actor, userId) };
  });
}

/**
 * Checks a code at sign-in. A code is good once: the step it matched is recorded in the same
 * statement that accepts it, so a replay (or the same code sent to two nodes) is refused.
 */
export async function verifyTotp(deps: Deps, userId: string, code: string): Promise<boolean> {
  const factor = await findTotpFactor(deps.db.knex, userId);
  if (!factor?.confirmedAt) return false;
  const step = await matchingStep(deps.sealer.open(factor.secretSealed, sealContext(userId)), code);
  if (step === undefined) return false;
  return claimTotpStep(deps.db.knex, userId, step, { confirm: false });
}

export async function removeTotp(deps: Deps, actor: Actor, userId: string): Promise<void> {
  await deps.db.knex.transaction(async (trx) => {
    if (!(await deleteTotpFactor(trx, userId))) return;
    await dropRecoveryCodesWithoutFactor(trx, userId);
    await recordAudit(trx, actor, { type: 'user.factor_removed', subject: { type: 'user', id: userId }, details: { factor: 'totp' } });
  });
}
