import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { confirmTotpEnrolment, pendingTotpEnrolment, removeTotp, startTotpEnrolment } from '../domain/factors/totp.js';
import { issueRecoveryCodes } from '../domain/factors/recovery-codes.js';
import { listPasskeys } from '../domain/factors/passkeys.js';
import { factorsOf, hasSecondFactor } from '../domain/factors/summary.js';
import { identitiesOf } from '../domain/identities.js';
import { LatchkeyError } from '../errors.js';
import { formBody, problemText, text } from '../http/forms.js';
import { principal, type AccountKit } from './kit.js';
import { passkeyRoutes } from './passkeys.js';

/**
 * /account/security: the second step of signing in. An authenticator app (set up with a QR
 * code and a first code), passkeys, recovery codes, and the upstream accounts linked to this one.
 */
export function securityRoutes(router: Router, kit: AccountKit): void {
  const { deps, guard } = kit;

  async function show(ctx: Context, locals: Record<string, unknown> = {}) {
    const { user } = principal(ctx);
    const factors = await factorsOf(deps, user.id);
    await kit.page(ctx, 'security', { factors, hasSecondFactor: hasSecondFactor(factors), recoveryCodes: null, enrolment: null, totpError: null, passkeys: await listPasskeys(deps, user.id), identities: await identitiesOf(deps, user.id), ...locals });
  }

  passkeyRoutes(router, kit, show);

  router.get('/security', ...guard, (ctx) => show(ctx));

  async function showTotpSetup(ctx: Context, error: LatchkeyError | null) {
    const { user } = principal(ctx);
    // A refused code shows the same secret again; every other visit starts afresh.
    const enrolment = (error ? await pendingTotpEnrolment(deps, user) : undefined) ?? (await startTotpEnrolment(deps, user));
    await kit.page(ctx, 'security', { enrolment, error: error && problemText(error) }, 'security-totp');
  }

  router.get('/security/totp', ...guard, async (ctx) => {
    if ((await factorsOf(deps, principal(ctx).user.id)).totp) return kit.done(ctx, '/account/security', 'account.security.totp_already');
    await showTotpSetup(ctx, null);
  });

  router.post('/security/totp', ...guard, async (ctx) => {
    const { user, actor } = principal(ctx);
    let recoveryCodes: string[] | undefined;
    try {
      ({ recoveryCodes } = await confirmTotpEnrolment(deps, actor, user.id, text(formBody(ctx.request.body), 'code')));
    } catch (error) {
      if (!(error instanceof LatchkeyError) || error.code !== 'input.invalid') throw error;
      ctx.status = error.status;
      return showTotpSetup(ctx, error);
    }
    if (!recoveryCodes) return kit.done(ctx, '/account/security', 'account.security.totp_on');
    // The first factor: its recovery codes are shown on this answer, once.
    await show(ctx, { recoveryCodes, notice: 'account.security.totp_on' });
  });

  router.post('/security/totp/remove', ...guard, async (ctx) => {
    const { user, actor } = principal(ctx);
    await removeTotp(deps, actor, user.id);
    kit.done(ctx, '/account/security', 'account.security.totp_removed');
  });

  router.post('/security/recovery-codes', ...guard, async (ctx) => {
    const { user, actor } = principal(ctx);
    if (!hasSecondFactor(await factorsOf(deps, user.id))) return kit.done(ctx, '/account/security', 'account.security.recovery_needs_factor');
    const recoveryCodes = await issueRecoveryCodes(deps.db.knex, actor, user.id);
    await show(ctx, { recoveryCodes, notice: 'account.security.recovery_new' });
  });
}
