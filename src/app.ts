import type { Router } from '@koa/router';
import Koa from 'koa';
import { accountRouter } from './account/router.js';
import { adminApiRouter } from './admin/api/router.js';
import { adminConsoleRouter } from './admin/console/router.js';
import type { Deps } from './deps.js';
import { assetsRouter } from './http/assets.js';
import { accessLog } from './http/middleware/access-log.js';
import { errorHandler } from './http/middleware/error-handler.js';
import { requestId } from './http/middleware/request-id.js';
import { securityHeaders } from './http/middleware/security-headers.js';
import { languageRouter } from './http/language.js';
import { interactionsRouter } from './interactions/routes.js';
import { upstreamCallbackRouter } from './federation/sign-in.js';
import { DISCOVERY_PATH, OAUTH_DISCOVERY_PATH, PROVIDER_ROUTES } from './oidc/configuration.js';
import { publishedDocuments } from './oidc/published-documents.js';
import type { Provider } from './oidc/provider.js';
import { opsRouter } from './ops/routes.js';
import { selfServiceRouter } from './self-service/routes.js';

/**
 * Builds the whole HTTP application; no listen(), so tests mount the real thing. The provider
 * comes last so our routes win; it runs as its own Koa app (own cookies, own proxy setting).
 */
export async function createApp(deps: Deps, provider: () => Provider): Promise<Koa> {
  const app = new Koa();
  app.proxy = deps.config.http.trustProxy;
  // The client's address is the one the proxy in front of us added, the last in
  // X-Forwarded-For: entries before it are whatever the client chose to send.
  app.maxIpsCount = 1;
  app.use(requestId());
  app.use(accessLog(deps.log, deps.metrics));
  app.use(securityHeaders({ https: deps.config.http.issuer.startsWith('https:') }));
  app.use(errorHandler(deps.log, deps.config.theme));
  const callbacks = new WeakMap<Provider, ReturnType<Provider['callback']>>();
  const toProvider = async (ctx: Koa.Context) => {
    const current = provider();
    let handle = callbacks.get(current);
    if (!handle) {
      handle = current.callback();
      callbacks.set(current, handle);
    }
    ctx.respond = false;
    await handle(ctx.req, ctx.res);
  };
  // The provider's API endpoints, the ones machines call all day, are its alone: their requests
  // skip matching against every route of ours on the way.
  const { token, introspection, revocation, jwks, userinfo } = PROVIDER_ROUTES;
  const providerApi = new Set<string>([token, introspection, revocation, jwks, userinfo, DISCOVERY_PATH, OAUTH_DISCOVERY_PATH]);
  app.use(publishedDocuments(provider, deps.config.http.issuer));
  app.use((ctx, next) => (providerApi.has(ctx.path) ? toProvider(ctx) : next()));
  // /metrics moves to LATCHKEY_METRICS_PORT when that is set (src/ops/server.ts); the probes stay here too.
  const ops = opsRouter(deps, { metrics: deps.config.ops.metricsPort === undefined });
  app.use(ops.routes()).use(ops.allowedMethods());
  const assets = await assetsRouter(deps.config.theme);
  app.use(assets.routes());
  app.use(languageRouter(deps.config).routes());
  const interactions = interactionsRouter(deps, provider);
  app.use(interactions.routes()).use(interactions.allowedMethods());
  const upstreamCallback = upstreamCallbackRouter(deps, provider);
  app.use(upstreamCallback.routes()).use(upstreamCallback.allowedMethods());
  const selfService = selfServiceRouter(deps, provider);
  app.use(selfService.routes()).use(selfService.allowedMethods());
  const adminApi = adminApiRouter(deps, provider);
  app.use(adminApi.routes()).use(adminApi.allowedMethods());
  const adminConsole = adminConsoleRouter(deps, provider);
  app.use(adminConsole.routes()).use(adminConsole.allowedMethods());
  const account = accountRouter(deps, provider);
  app.use(account.routes()).use(account.allowedMethods());
  app.use(toProvider);
  return app;
}

/**
 * The routers createApp mounted, read from the app itself (router.routes() carries its router),
 * so a list of routes never has to be kept by hand.
 */
export function mountedRouters(app: Koa): Router[] {
  return app.middleware.flatMap((middleware) => {
    const { router } = middleware as { router?: Router };
    return router ? [router] : [];
  });
}
