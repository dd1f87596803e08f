import type { Router } from '@koa/router';
import { identitiesOf, unlinkIdentity } from '../domain/identities.js';
import { LatchkeyError } from '../errors.js';
import { principal, type AccountKit } from './kit.js';

/** Unlinking an upstream account (Google, GitHub, ...) from the security page. */
export function identityRoutes(router: Router, kit: AccountKit): void {
  const { deps, guard } = kit;

  router.post('/security/identities/:id/unlink', ...guard, async (ctx) => {
    const { user, actor } = principal(ctx);
    // Named as the page listed it.
    const listed = (await identitiesOf(deps, user.id)).find((identity) => identity.id === ctx.params.id);
    try {
      const identity = await unlinkIdentity(deps, actor, user.id, ctx.params.id!);
      kit.done(ctx, '/account/security', 'account.identities.unlinked', { provider: listed?.providerName ?? identity.providerId });
    } catch (error) {
      if (!(error instanceof LatchkeyError) || !['identity.last_way_in', 'identity.not_found'].includes(error.code)) throw error;
      kit.done(ctx, '/account/security', error.code === 'identity.last_way_in' ? 'account.identities.last_way_in' : 'account.identities.not_found');
    }
  });
}
