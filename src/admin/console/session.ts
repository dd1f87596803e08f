import type { Context } from 'koa';
import type { Deps } from '../../deps.js';
import { ADMIN_SCOPE, adminResourceIdentifier } from '../../domain/admin-access.js';
import { CONSOLE_CLIENT_ID } from '../../domain/first-party-clients.js';
import { LatchkeyError } from '../../errors.js';
import { firstPartySession, type Authorization, type FirstPartySession } from '../../http/first-party/session.js';
import { renderPage } from '../../http/render.js';
import type { Provider } from '../../oidc/provider.js';
import { authorizeAdmin, type AdminPrincipal } from '../auth.js';

/**
 * The console's session is an admin access token, checked with authorizeAdmin on every request:
 * a demoted admin sees the not-allowed page at the next click. The interaction refuses the
 * admin scope to anyone who is not an administrator, which reaches the callback as access_denied.
 */
export function consoleSession(deps: Deps, provider: () => Provider): FirstPartySession {
  async function authorize(ctx: Context, token: string): Promise<Authorization<AdminPrincipal>> {
    try {
      return { principal: await authorizeAdmin(deps, provider(), token, ctx.ip) };
    } catch (error) {
      if (!(error instanceof LatchkeyError)) throw error;
      if (error.code === 'admin.forbidden') return 'refused';
      if (error.code === 'admin.unauthenticated') return 'sign-in';
      throw error;
    }
  }

  return firstPartySession(deps, provider, {
    basePath: '/admin',
    cookieName: 'latchkey_console',
    label: 'the admin console',
    section: 'admin.section',
    signIn: { clientId: CONSOLE_CLIENT_ID, scope: `openid ${ADMIN_SCOPE}`, resource: adminResourceIdentifier(deps.config) },
    signedOutView: 'admin/signed-out',
    authorize,
    async refused(ctx, signOutUrl) {
      ctx.status = 403;
      ctx.type = 'html';
      ctx.body = await renderPage(ctx, 'admin/not-allowed', { title: 'admin.not_allowed.title', section: 'admin.section', theme: deps.config.theme }, { signOutUrl });
    },
  });
}
