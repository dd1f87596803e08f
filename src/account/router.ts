import { Router } from '@koa/router';
import type { Deps } from '../deps.js';
import type { Provider } from '../oidc/provider.js';
import { appRoutes } from './apps.js';
import { identityRoutes } from './identities.js';
import { createKit } from './kit.js';
import { passwordRoutes } from './password.js';
import { profileRoutes } from './profile.js';
import { securityRoutes } from './security.js';
import { accountSession } from './session.js';
import { sessionRoutes } from './sessions.js';

/** /account: where users manage their own account; a first-party OpenID Connect client of Latchkey. */
export function accountRouter(deps: Deps, provider: () => Provider): Router {
  const router = new Router({ prefix: '/account' });
  const session = accountSession(deps, provider);
  session.mount(router);

  const kit = createKit(deps, session.guard, session.flash);
  profileRoutes(router, kit);
  passwordRoutes(router, kit);
  securityRoutes(router, kit);
  identityRoutes(router, kit);
  appRoutes(router, kit);
  sessionRoutes(router, kit, session);
  return router;
}
