import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { confirmTotpEnrolment, pendingTotpEnrolment, startTotpEnrolment, verifyTotp } from '../domain/factors/totp.js';
import { redeemRecoveryCode } from '../domain/factors/recovery-codes.js';
import { factorsOf } from '../domain/factors/summary.js';
import { recordSecondFactorFailure } from '../domain/sign-in-events.js';
import { attemptFailed, clearFailures, reserveAttempt, secondFactorThrottle } from '../domain/throttle.js';
import { LatchkeyError } from '../errors.js';
import { problemText } from '../http/forms.js';
import { findActiveAccount } from '../domain/accounts.js';
import type { Details, SignInFlow } from './flow.js';
import { pendingSignIn, type PendingSignIn } from './sign-in-state.js';

const codeForm = z.object({ code: z.string().max(100).catch('') });

function submittedCode(body: unknown): string {
  return codeForm.parse(body && typeof body === 'object' ? body : {}).code;
}

/**
 * The second step of signing in: a code from the authenticator app or a recovery code (passkeys
 * add their own routes, interactions/passkeys.ts), and, where two factors are required and the
 * user has none, setting up the authenticator app then and there.
 */
export function secondFactorRoutes(router: Router, flow: SignInFlow): void {
  const { deps } = flow;

  /** The interaction, in its login prompt, with a sign-in waiting for its second factor. */
  async function waiting(ctx: Context): Promise<{ interaction: Details; pending: PendingSignIn }> {
    const interaction = await flow.details(ctx);
    if (interaction.prompt.name !== 'login') throw new LatchkeyError('interaction.expired');
    return { interaction, pending: pendingSignIn(interaction) };
  }

  /**
   * A sign-in proving a factor the user had when the first factor was proven. One that has to set
   * a factor up proves nothing else: recovery codes left from a removed factor do not stand in.
   */
  async function proving(ctx: Context): Promise<{ interaction: Details; pending: PendingSignIn }> {
    const found = await waiting(ctx);
    if (found.pending.needsEnrolment) throw new LatchkeyError('interaction.expired');
    return found;
  }

  async function showChoice(ctx: Context, interaction: Details, pending: PendingSignIn, error: LatchkeyError | null) {
    const factors = await factorsOf(deps, pending.accountId);
    await flow.render(ctx, interaction, 'mfa', 'mfa.title', { factors, error: error && problemText(error) });
  }

  async function showRecovery(ctx: Context, interaction: Details, error: LatchkeyError | null) {
    await flow.render(ctx, interaction, 'mfa-recovery', 'mfa.recovery.title', { error: error && problemText(error) });
  }

  /**
   * Checks a code under the second-factor throttle: a wrong one counts against the account and
   * the network, and is audited; past the limit, every attempt waits.
   */
  async function checkCode(ctx: Context, interaction: Details, pending: PendingSignIn, method: 'totp' | 'recovery_code', check: () => Promise<boolean>): Promise<void> {
    const reservation = await reserveAttempt(deps, secondFactorThrottle(deps, pending.accountId, ctx.ip));
    if (await check()) {
      await clearFailures(deps, reservation);
      return;
    }
    const wait = await attemptFailed(deps, reservation);
    await recordSecondFactorFailure(deps, ctx.ip, { userId: pending.accountId, method, clientId: String(interaction.params.client_id), lockedOutSeconds: wait });
    throw new LatchkeyError('auth.invalid_credentials', 'That code is not right. Try again.');
  }

  /** Shows the form again with what went wrong; a throttled attempt says when to try again. */
  function refuse(ctx: Context, error: unknown): LatchkeyError {
    if (!(error instanceof LatchkeyError) || (error.code !== 'auth.invalid_credentials' && error.code !== 'auth.throttled')) throw error;
    if (error.retryAfter !== undefined) ctx.set('Retry-After', String(error.retryAfter));
    ctx.status = error.status;
    return error;
  }

  router.get('/mfa', async (ctx) => {
    const { interaction, pending } = await waiting(ctx);
    if (pending.needsEnrolment) return ctx.redirect(`/interaction/${interaction.uid}/mfa/enrol`);
    await showChoice(ctx, interaction, pending, null);
  });

  router.post('/mfa/totp', async (ctx) => {
    const { interaction, pending } = await proving(ctx);
    const code = submittedCode(ctx.request.body);
    try {
      await checkCode(ctx, interaction, pending, 'totp', () => verifyTotp(deps, pending.accountId, code));
    } catch (error) {
      return showChoice(ctx, interaction, pending, refuse(ctx, error));
    }
    await flow.secondFactorDone(ctx, interaction, pending, 'otp');
  });

  router.get('/mfa/recovery', async (ctx) => {
    const { interaction } = await proving(ctx);
    await showRecovery(ctx, interaction, null);
  });

  router.post('/mfa/recovery', async (ctx) => {
    const { interaction, pending } = await proving(ctx);
    const code = submittedCode(ctx.request.body);
    const actor = { type: 'user' as const, id: pending.accountId, ip: ctx.ip };
    let left: number | undefined;
    try {
      await checkCode(ctx, interaction, pending, 'recovery_code', async () => {
        left = await redeemRecoveryCode(deps, actor, pending.accountId, code);
        return left !== undefined;
      });
    } catch (error) {
      return showRecovery(ctx, interaction, refuse(ctx, error));
    }
    // The user learns a code is gone and how many remain before going on.
    await flow.provenWithNotice(ctx, interaction, pending, 'otp', 'recovery-used', 'mfa.recovery_used.title', { left });
  });

  router.post('/mfa/continue', async (ctx) => {
    const { interaction, pending } = await waiting(ctx);
    if (!pending.proven) throw new LatchkeyError('interaction.expired');
    await flow.secondFactorDone(ctx, interaction, pending, pending.proven);
  });

  /** Two factors are required and the user has none: they choose one to set up now. */
  async function enrolling(ctx: Context): Promise<{ interaction: Details; pending: PendingSignIn }> {
    const found = await waiting(ctx);
    if (!found.pending.needsEnrolment) throw new LatchkeyError('interaction.expired');
    return found;
  }

  router.get('/mfa/enrol', async (ctx) => {
    const { interaction } = await enrolling(ctx);
    await flow.render(ctx, interaction, 'mfa-enrol', 'mfa.enrol.title', {});
  });

  async function showTotpEnrolment(ctx: Context, interaction: Details, pending: PendingSignIn, error: LatchkeyError | null) {
    const user = await findActiveAccount(deps, pending.accountId);
    if (!user) throw new LatchkeyError('interaction.expired');
    // A refused code shows the same secret again; every other visit starts afresh.
    const enrolment = (error ? await pendingTotpEnrolment(deps, user) : undefined) ?? (await startTotpEnrolment(deps, user));
    await flow.render(ctx, interaction, 'mfa-enrol-totp', 'mfa.enrol_totp.title', { enrolment, error: error && problemText(error) });
  }

  router.get('/mfa/enrol/totp', async (ctx) => {
    const { interaction, pending } = await enrolling(ctx);
    await showTotpEnrolment(ctx, interaction, pending, null);
  });

  router.post('/mfa/enrol/totp', async (ctx) => {
    const { interaction, pending } = await enrolling(ctx);
    const actor = { type: 'user' as const, id: pending.accountId, ip: ctx.ip };
    let recoveryCodes: string[] | undefined;
    try {
      ({ recoveryCodes } = await confirmTotpEnrolment(deps, actor, pending.accountId, submittedCode(ctx.request.body)));
    } catch (error) {
      if (!(error instanceof LatchkeyError) || error.code !== 'input.invalid') throw error;
      ctx.status = error.status;
      return showTotpEnrolment(ctx, interaction, pending, error);
    }
    await flow.factorEnrolled(ctx, interaction, pending, 'otp', recoveryCodes);
  });
}
