import { bodyParser } from '@koa/bodyparser';
import { Router } from '@koa/router';
import type { Deps } from '../../deps.js';
import { csrfProtection } from '../../http/middleware/csrf.js';
import { cookieSecrets, type Provider } from '../../oidc/provider.js';
import { auditRoutes } from './audit.js';
import { clientRoutes } from './clients.js';
import { cookieJar } from './cookies.js';
import { createKit } from './kit.js';
import { consoleOpenId } from './openid.js';
import { resourceRoutes } from './resources.js';
import { consoleSession } from './session.js';
import { tokenRoutes } from './tokens.js';
import { userRoutes } from './users.js';

/** /admin: the admin console, server-rendered pages that work without JavaScript. */
export function adminConsoleRouter(deps: Deps, provider: () => Provider): Router {
  const router = new Router({ prefix: '/admin' });
  // The provider's cookie secrets: stored in the database, rotated with the provider.
  const keys = () => cookieSecrets(provider());
  const jar = cookieJar({ keys, secure: deps.config.http.issuer.startsWith('https:') });
  const session = consoleSession(deps, provider, jar, consoleOpenId(deps.config, provider));
  const form = bodyParser({ enableTypes: ['form'], formLimit: '64kb' });
  const csrf = csrfProtection({ keys, session: (ctx) => ctx.state.sessionToken as string | undefined });

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Frame-Options', 'DENY');
    await next();
  });
  session.routes(router, [form, session.readSession, csrf]);

  const kit = createKit(deps, [form, session.readSession, session.requireAdmin, csrf], session.flash);
  router.get('/', ...kit.guard, (ctx) => {
    ctx.redirect('/admin/clients');
  });
  clientRoutes(router, kit);
  userRoutes(router, kit);
  resourceRoutes(router, kit);
  tokenRoutes(router, kit);
  auditRoutes(router, kit);
  return router;
}
