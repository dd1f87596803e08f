import { Router } from '@koa/router';
import type { Deps } from '../../deps.js';
import type { Provider } from '../../oidc/provider.js';

/** /admin */
export function adminConsoleRouter(_deps: Deps, _provider: () => Provider): Router {
  return new Router({ prefix: '/admin' });
}
