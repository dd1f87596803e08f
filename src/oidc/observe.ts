import type { EventEmitter } from 'node:events';
import type { Deps } from '../deps.js';
import { currentRequest } from '../request-context.js';
import type { Provider } from './provider.js';

interface RoutedContext {
  _matchedRouteName?: unknown;
  params?: Record<string, string>;
}

/**
 * What the metrics and the access log need from inside the provider: which of its routes
 * answered (its router runs after this middleware, so the match is read on the way out), and
 * the tokens its token endpoint issued.
 */
export function observeProvider(provider: Provider, deps: Pick<Deps, 'metrics'>): void {
  provider.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      const { _matchedRouteName: name, params } = ctx as unknown as RoutedContext;
      const request = currentRequest();
      if (request && typeof name === 'string') request.providerRoute = { name, params: params ?? {} };
    }
  });
  // The typings declare one overload per event; the plain emitter takes the context as it comes.
  (provider as unknown as EventEmitter).on('grant.success', (ctx: { oidc: { params?: { grant_type?: unknown } } }) => {
    const grantType = ctx.oidc.params?.grant_type;
    deps.metrics.tokensIssued.inc({ grant_type: typeof grantType === 'string' ? grantType : 'unknown' });
  });
}
