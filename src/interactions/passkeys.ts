import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { findActiveAccount } from '../domain/accounts.js';
import { addPasskey, amrOf, authenticationOptions, registrationOptions, verifyPasskey } from '../domain/factors/passkeys.js';
import { factorsOf } from '../domain/factors/summary.js';
import { recordSecondFactorFailure } from '../domain/sign-in-events.js';
import { assertNotThrottled, clearFailures, recordFailure, secondFactorThrottle } from '../domain/throttle.js';
import { LatchkeyError } from '../errors.js';
import { formBody, problemText, text } from '../http/forms.js';
import { pageTranslator } from '../http/render.js';
import type { Details, SignInFlow } from './flow.js';
import { pendingSignIn, type PendingSignIn } from './sign-in-state.js';

/** Shows the login page again with what went wrong (routes.ts owns that page). */
export type ShowLoginError = (ctx: Context, interaction: Details, error: LatchkeyError) => Promise<void>;

/** The browser's answer to the WebAuthn prompt, which assets/passkeys.js puts in the form. */
function submittedCredential(ctx: Context): string {
  return text(formBody(ctx.request.body), 'credential');
}

/**
 * Passkeys at sign-in: on their own ("Sign in with a passkey", a discoverable passkey with user
 * verification, two factors in one), as the second step after a password, and set up during a
 * sign-in that needs a second step. Each ceremony is two requests: its options (JSON, for the
 * page's script) and the form post with the answer. Challenges are bound to this interaction.
 */
export function passkeyRoutes(router: Router, flow: SignInFlow, showLoginError: ShowLoginError): void {
  const { deps } = flow;

  async function loginPrompt(ctx: Context): Promise<Details> {
    const interaction = await flow.details(ctx);
    if (interaction.prompt.name !== 'login') throw new LatchkeyError('interaction.expired');
    return interaction;
  }

  async function waiting(ctx: Context): Promise<{ interaction: Details; pending: PendingSignIn }> {
    const interaction = await loginPrompt(ctx);
    return { interaction, pending: pendingSignIn(interaction) };
  }

  /** Refusals the user can do something about; anything else is not this form's business. */
  function refusal(ctx: Context, error: unknown): LatchkeyError {
    if (!(error instanceof LatchkeyError) || (error.code !== 'auth.invalid_credentials' && error.code !== 'auth.throttled' && error.code !== 'input.invalid')) throw error;
    if (error.retryAfter !== undefined) ctx.set('Retry-After', String(error.retryAfter));
    ctx.status = error.status;
    return error;
  }

  router.post('/passkey/options', async (ctx) => {
    const interaction = await loginPrompt(ctx);
    ctx.body = await authenticationOptions(deps, { purpose: 'passwordless', userId: null, boundTo: interaction.uid });
  });

  router.post('/passkey', async (ctx) => {
    const interaction = await loginPrompt(ctx);
    let user;
    try {
      const { passkey, method } = await verifyPasskey(deps, submittedCredential(ctx), { purpose: 'passwordless', userId: null, boundTo: interaction.uid });
      // A disabled (or deleted) account's passkeys open nothing.
      user = await findActiveAccount(deps, passkey.userId);
      if (!user) throw new LatchkeyError('auth.invalid_credentials', 'That passkey was not accepted. Try again or use another way.');
      deps.metrics.logins.inc({ outcome: 'success' });
      // The device verified the user (PIN, biometrics): possession and that, two factors.
      await flow.firstFactorDone(ctx, interaction, { user, amr: [method, 'mfa'], multiFactor: true });
    } catch (error) {
      await showLoginError(ctx, interaction, refusal(ctx, error));
    }
  });

  router.post('/mfa/passkey/options', async (ctx) => {
    const { interaction, pending } = await waiting(ctx);
    if (pending.needsEnrolment) throw new LatchkeyError('interaction.expired');
    ctx.body = await authenticationOptions(deps, { purpose: 'second_factor', userId: pending.accountId, boundTo: interaction.uid });
  });

  router.post('/mfa/passkey', async (ctx) => {
    const { interaction, pending } = await waiting(ctx);
    if (pending.needsEnrolment) throw new LatchkeyError('interaction.expired');
    const throttle = secondFactorThrottle(deps, pending.accountId, ctx.ip);
    let method: 'hwk' | 'swk';
    try {
      const standing = await assertNotThrottled(deps, throttle);
      try {
        ({ method } = await verifyPasskey(deps, submittedCredential(ctx), { purpose: 'second_factor', userId: pending.accountId, boundTo: interaction.uid }));
      } catch (error) {
        if (!(error instanceof LatchkeyError) || error.code !== 'auth.invalid_credentials') throw error;
        // A failed passkey counts like a wrong code: against the account and the network, audited.
        const wait = await recordFailure(deps, throttle);
        await recordSecondFactorFailure(deps, ctx.ip, { userId: pending.accountId, method: 'passkey', clientId: String(interaction.params.client_id), lockedOutSeconds: wait });
        throw error;
      }
      await clearFailures(deps, standing);
    } catch (error) {
      const refused = refusal(ctx, error);
      const factors = await factorsOf(deps, pending.accountId);
      return flow.render(ctx, interaction, 'mfa', 'mfa.title', { factors, error: problemText(refused) });
    }
    await flow.secondFactorDone(ctx, interaction, pending, method);
  });

  /** Two factors are required and the user has none: setting up a passkey now proves it too. */
  async function enrolling(ctx: Context) {
    const found = await waiting(ctx);
    if (!found.pending.needsEnrolment) throw new LatchkeyError('interaction.expired');
    const user = await findActiveAccount(deps, found.pending.accountId);
    if (!user) throw new LatchkeyError('interaction.expired');
    return { ...found, user };
  }

  router.post('/mfa/enrol/passkey/options', async (ctx) => {
    const { interaction, user } = await enrolling(ctx);
    ctx.body = await registrationOptions(deps, user, { purpose: 'enrol', boundTo: interaction.uid });
  });

  router.post('/mfa/enrol/passkey', async (ctx) => {
    const { interaction, pending, user } = await enrolling(ctx);
    const actor = { type: 'user' as const, id: user.id, ip: ctx.ip };
    const t = pageTranslator(ctx, interaction.params.ui_locales);
    let added;
    try {
      added = await addPasskey(
        deps,
        actor,
        user.id,
        { credential: submittedCredential(ctx), name: '', defaultName: (number) => t('account.passkeys.default_name', { number }) },
        { purpose: 'enrol', boundTo: interaction.uid },
      );
    } catch (error) {
      const refused = refusal(ctx, error);
      return flow.render(ctx, interaction, 'mfa-enrol', 'mfa.enrol.title', { passkeyError: problemText(refused) });
    }
    await flow.factorEnrolled(ctx, interaction, pending, amrOf(added.passkey), added.recoveryCodes);
  });
}

