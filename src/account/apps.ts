import type { Router } from '@koa/router';
import { BUILT_IN_CLIENT_IDS } from '../domain/first-party-clients.js';
import { getGrant, listUserGrants, revokeGrant } from '../domain/grants.js';
import { LatchkeyError } from '../errors.js';
import { pageTranslator } from '../http/render.js';
import { describePermissions } from '../interactions/permissions.js';
import { principal, type AccountKit } from './kit.js';

/** /account/apps: the applications the user allowed, in the words of the consent page, with revocation. */
export function appRoutes(router: Router, kit: AccountKit): void {
  const { deps, guard } = kit;

  router.get('/apps', ...guard, async (ctx) => {
    const t = pageTranslator(ctx);
    const grants = (await listUserGrants(deps, principal(ctx).user.id)).filter((grant) => !BUILT_IN_CLIENT_IDS.includes(grant.clientId));
    const apps = await Promise.all(
      grants.map(async (grant) => ({
        grantId: grant.grantId,
        name: (await deps.catalog.client(grant.clientId))?.name ?? grant.clientId,
        since: grant.createdAt,
        permissions: describePermissions({
          missingOIDCScope: grant.scope.split(' ').filter(Boolean),
          missingResourceScopes: Object.fromEntries(grant.resources.map((resource) => [resource.identifier, resource.scope.split(' ').filter(Boolean)])),
        }, t),
      })),
    );
    await kit.page(ctx, 'apps', { apps });
  });

  router.post('/apps/:grantId/revoke', ...guard, async (ctx) => {
    const { user, actor } = principal(ctx);
    // Another user's grant is answered exactly like one that does not exist.
    const grant = await getGrant(deps, ctx.params.grantId!).catch((error: unknown) => {
      throw error instanceof LatchkeyError && error.code === 'grant.not_found' ? new LatchkeyError('grant.not_found', undefined, { cause: error }) : error;
    });
    if (grant.accountId !== user.id) throw new LatchkeyError('grant.not_found');
    await revokeGrant(deps, actor, grant.grantId);
    const name = (await deps.catalog.client(grant.clientId))?.name ?? grant.clientId;
    kit.done(ctx, '/account/apps', 'account.apps.revoked', { app: name });
  });
}
