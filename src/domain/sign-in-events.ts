import { z } from 'zod';
import type { Deps } from '../deps.js';
import type { UserRow } from '../store/users.js';
import { recordAudit, type Actor } from './audit.js';
import { userData } from './events/catalog.js';
import { emitEvent } from './events/emit.js';

// What signing in leaves behind: an audit row for the admins and an event for webhooks, written
// together so one never exists without the other.

/** `amr`: how the user proved who they are (RFC 8176 names, as in the ID token). */
export async function recordSignIn(deps: Deps, ip: string, user: UserRow, clientId: string, amr: readonly string[]): Promise<void> {
  await deps.db.knex.transaction(async (trx) => {
    await recordAudit(trx, { type: 'user', id: user.id, ip }, { type: 'user.signed_in', subject: { type: 'user', id: user.id }, details: { client_id: clientId, amr } });
    await emitEvent(trx, 'user.signed_in', { user: userData(user), client_id: clientId });
  });
}

/**
 * A failed sign-in, and the lock-out it caused when the throttle says further attempts wait.
 * The address typed is kept (capped), never the password: it shows which account is under attack.
 */
export async function recordFailedSignIn(deps: Deps, ip: string, attempt: { email: string; clientId: string; lockedOutSeconds: number | undefined }): Promise<void> {
  const anonymous: Actor = { type: 'anonymous', id: null, ip };
  const email = attempt.email.slice(0, 254);
  const details = { email, client_id: attempt.clientId };
  // What was typed leaves Latchkey only if it is an address: people type passwords into the email field.
  const address = z.email().safeParse(email).success ? email : null;
  await deps.db.knex.transaction(async (trx) => {
    await recordAudit(trx, anonymous, { type: 'user.sign_in_failed', outcome: 'failure', details });
    await emitEvent(trx, 'user.sign_in_failed', { email: address, client_id: attempt.clientId });
    if (attempt.lockedOutSeconds === undefined) return;
    await recordAudit(trx, anonymous, { type: 'user.locked_out', outcome: 'failure', details: { ...details, seconds: attempt.lockedOutSeconds } });
    await emitEvent(trx, 'user.locked_out', { email: address, user_id: null, retry_after_seconds: attempt.lockedOutSeconds, action: 'sign-in' });
  });
}

/** A signed-in user who kept getting their current password wrong while changing it. */
export async function recordPasswordChangeLockout(deps: Deps, actor: Actor, user: UserRow, seconds: number): Promise<void> {
  await deps.db.knex.transaction(async (trx) => {
    await recordAudit(trx, actor, { type: 'user.locked_out', outcome: 'failure', subject: { type: 'user', id: user.id }, details: { action: 'password-change', seconds } });
    await emitEvent(trx, 'user.locked_out', { email: user.email, user_id: user.id, retry_after_seconds: seconds, action: 'password-change' });
  });
}

/**
 * A consent. `grantId` is the grant's public name (its digest, as the admin API and the account
 * page show it), never the provider's own id. The grant itself is saved through the provider's adapter just before, outside this
 * transaction: the provider writes its own models.
 */
export async function recordConsent(
  deps: Deps,
  ip: string,
  consent: { grantId: string; userId: string; clientId: string; scope: string; resources: Record<string, string> },
): Promise<void> {
  await deps.db.knex.transaction(async (trx) => {
    await recordAudit(trx, { type: 'user', id: consent.userId, ip }, {
      type: 'grant.created',
      subject: { type: 'grant', id: consent.grantId },
      details: { client_id: consent.clientId, scope: consent.scope, resources: consent.resources },
    });
    await emitEvent(trx, 'grant.created', { grant_id: consent.grantId, user_id: consent.userId, client_id: consent.clientId, scope: consent.scope, resources: consent.resources });
  });
}

/** A wrong second factor after the right password: the account is under attack, or its owner mistyped. */
export async function recordSecondFactorFailure(deps: Deps, ip: string, attempt: { userId: string; method: 'totp' | 'recovery_code' | 'passkey'; clientId: string; lockedOutSeconds: number | undefined }): Promise<void> {
  const actor: Actor = { type: 'anonymous', id: null, ip };
  const subject = { type: 'user' as const, id: attempt.userId };
  await deps.db.knex.transaction(async (trx) => {
    await recordAudit(trx, actor, { type: 'user.second_factor_failed', outcome: 'failure', subject, details: { method: attempt.method, client_id: attempt.clientId } });
    if (attempt.lockedOutSeconds === undefined) return;
    await recordAudit(trx, actor, { type: 'user.locked_out', outcome: 'failure', subject, details: { action: 'second-factor', seconds: attempt.lockedOutSeconds } });
  });
}
