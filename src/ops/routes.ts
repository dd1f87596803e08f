import { createHash, timingSafeEqual } from 'node:crypto';
import { Router } from '@koa/router';
import type { Context, Next } from 'koa';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { isDraining } from '../lifecycle.js';
import { collectMetrics } from '../metrics.js';
import { checkReadiness } from './readiness.js';

export interface OpsOptions {
  /** Whether /metrics is served by this router (false on the main port when it has a port of its own). */
  metrics: boolean;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares digests, which have one length whatever was sent, so the time taken tells nothing about the token. */
function presentsToken(ctx: Context, token: string): boolean {
  const presented = /^Bearer +(\S+) *$/i.exec(ctx.get('Authorization'))?.[1];
  return presented !== undefined && timingSafeEqual(digest(presented), digest(token));
}

/**
 * /healthz: the process answers. /readyz: it should get traffic (src/ops/readiness.ts), which it
 * should not from the moment it starts shutting down.
 * /metrics: Prometheus' text format, behind LATCHKEY_METRICS_TOKEN when that is set.
 */
export function opsRouter(deps: Deps, options: OpsOptions): Router {
  const router = new Router();
  // Each answer describes this moment only.
  const noStore = (ctx: Context, next: Next) => {
    ctx.set('Cache-Control', 'no-store');
    return next();
  };

  router.get('/healthz', noStore, (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', noStore, async (ctx) => {
    const { ready, checks } = await checkReadiness(deps, isDraining(deps));
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks };
  });

  if (options.metrics) {
    const token = deps.config.ops.metricsToken;
    router.get('/metrics', noStore, async (ctx) => {
      if (token !== undefined && !presentsToken(ctx, token)) {
        ctx.set('WWW-Authenticate', 'Bearer realm="latchkey-metrics"');
        throw new LatchkeyError('metrics.unauthenticated');
      }
      const { contentType, body } = await collectMetrics(deps);
      ctx.type = contentType;
      ctx.body = body;
    });
  }
  return router;
}
