import { Router } from '@koa/router';
import type { Deps } from '../../deps.js';
import type { Provider } from '../../oidc/provider.js';
import { auditRoutes } from './audit.js';
import { clientRoutes } from './clients.js';
import { createKit } from './kit.js';
import { mailRoutes } from './mail.js';
import { resourceRoutes } from './resources.js';
import { consoleSession } from './session.js';
import { tokenExchangeRoutes } from './token-exchange.js';
import { tokenRoutes } from './tokens.js';
import { upstreamProviderRoutes } from './upstream-providers.js';
import { userRoutes } from './users.js';
import { webhookRoutes } from './webhooks.js';

/** /admin: the admin console, server-rendered pages that work without JavaScript. */
export function adminConsoleRouter(deps: Deps, provider: () => Provider): Router {
  const router = new Router({ prefix: '/admin' });
  const session = consoleSession(deps, provider);
  session.mount(router);

  const kit = createKit(deps, session.guard, session.flash);
  router.get('/', ...kit.guard, (ctx) => {
    ctx.redirect('/admin/clients');
    // The browser goes on at once: no "Redirecting to" sentence of Koa's, in no one's language.
    ctx.body = '';
  });
  clientRoutes(router, kit);
  userRoutes(router, kit);
  resourceRoutes(router, kit);
  tokenExchangeRoutes(router, kit);
  upstreamProviderRoutes(router, kit);
  tokenRoutes(router, kit);
  webhookRoutes(router, kit);
  auditRoutes(router, kit);
  mailRoutes(router, kit);
  return router;
}
