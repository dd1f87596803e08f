import Koa from 'koa';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { createDrainableServer } from '../http/drain.js';
import { accessLog } from '../http/middleware/access-log.js';
import { errorHandler } from '../http/middleware/error-handler.js';
import { requestId } from '../http/middleware/request-id.js';
import { opsRouter } from './routes.js';

export interface OpsServer {
  close(): Promise<void>;
}

/**
 * LATCHKEY_METRICS_PORT: /metrics, /healthz and /readyz on a port of their own, which can stay
 * inside the cluster network while the main port faces the internet.
 */
export async function startOpsServer(deps: Deps, options: { port: number; host: string }): Promise<OpsServer> {
  const app = new Koa();
  app.use(requestId());
  app.use(accessLog(deps.log, deps.metrics));
  app.use(errorHandler(deps.log, deps.config.theme));
  const router = opsRouter(deps, { metrics: true });
  app.use(router.routes()).use(router.allowedMethods());
  app.use(() => {
    throw new LatchkeyError('route.not_found');
  });
  const { server, drain } = createDrainableServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    close: () => drain(deps.config.ops.shutdownTimeoutMs),
  };
}
