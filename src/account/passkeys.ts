import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { addPasskey, registrationOptions, removePasskey } from '../domain/factors/passkeys.js';
import { LatchkeyError } from '../errors.js';
import { formBody, problemText, text } from '../http/forms.js';
import { pageTranslator } from '../http/render.js';
import { principal, type AccountKit } from './kit.js';

/** Renders the security page with these locals on top (security.ts owns the page). */
export type ShowSecurity = (ctx: Context, locals?: Record<string, unknown>) => Promise<void>;

/**
 * Passkeys on /account/security: adding one (its options as JSON for the page's script, then
 * the form post with the browser's answer) and removing one. Only the user's own: another
 * user's passkey id is not found.
 */
export function passkeyRoutes(router: Router, kit: AccountKit, show: ShowSecurity): void {
  const { deps, guard } = kit;

  router.post('/security/passkeys/options', ...guard, async (ctx) => {
    ctx.body = await registrationOptions(deps, principal(ctx).user, { purpose: 'register', boundTo: null });
  });

  router.post('/security/passkeys', ...guard, async (ctx) => {
    const { user, actor } = principal(ctx);
    const body = formBody(ctx.request.body);
    const t = pageTranslator(ctx);
    let added;
    try {
      added = await addPasskey(
        deps,
        actor,
        user.id,
        { credential: text(body, 'credential'), name: text(body, 'name'), defaultName: (number) => t('account.passkeys.default_name', { number }) },
        { purpose: 'register', boundTo: null },
      );
    } catch (error) {
      if (!(error instanceof LatchkeyError) || error.code !== 'input.invalid') throw error;
      ctx.status = error.status;
      return show(ctx, { passkeyError: { ...problemText(error), field: error.details?.name ?? null } });
    }
    if (!added.recoveryCodes) return kit.done(ctx, '/account/security', 'account.passkeys.added', { name: added.passkey.name });
    // The first factor: its recovery codes are shown on this answer, once.
    await show(ctx, { recoveryCodes: added.recoveryCodes, notice: 'account.passkeys.added_first' });
  });

  router.post('/security/passkeys/:id/remove', ...guard, async (ctx) => {
    const { user, actor } = principal(ctx);
    try {
      const removed = await removePasskey(deps, actor, user.id, ctx.params.id ?? '');
      kit.done(ctx, '/account/security', 'account.passkeys.removed', { name: removed.name });
    } catch (error) {
      if (!(error instanceof LatchkeyError) || error.code !== 'identity.last_way_in') throw error;
      kit.done(ctx, '/account/security', 'account.passkeys.last_way_in');
    }
  });
}
