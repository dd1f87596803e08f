import { Router } from '@koa/router';
import type { Deps } from '../../deps.js';
import type { Provider } from '../../oidc/provider.js';

/** /admin/api/v1 */
export function adminApiRouter(_deps: Deps, _provider: () => Provider): Router {
  return new Router({ prefix: '/admin/api/v1' });
}
