import { createApp } from './app.js';
import { startChangeFeed } from './cache/change-feed.js';
import { startControlServer, type ControlServer } from './control/socket.js';
import { migrateLatest } from './db/migrate.js';
import type { Deps } from './deps.js';
import { ensureFirstPartyClients } from './domain/first-party-clients.js';
import { ensureKeys } from './domain/keys.js';
import { createDrainableServer } from './http/drain.js';
import { startBackchannelLogout } from './jobs/backchannel-logout.js';
import { startCleanup } from './jobs/cleanup.js';
import type { Job } from './jobs/every.js';
import { startKeyRetirement } from './jobs/key-retirement.js';
import { startMailDelivery } from './jobs/mail-delivery.js';
import { startWebhookDelivery } from './jobs/webhook-delivery.js';
import { markDraining } from './lifecycle.js';
import { startLiveProvider } from './oidc/live-provider.js';
import { startOpsServer, type OpsServer } from './ops/server.js';

export interface RunningServer {
  /**
   * Graceful shutdown: /readyz turns not ready, listening and background work stop, and the
   * requests in flight get up to config.ops.shutdownTimeoutMs to finish.
   */
  close(): Promise<void>;
}

/**
 * Migrates, makes sure keys exist, builds the provider and the app, and listens. The caller
 * owns `deps` (and closes its database after `close()`).
 */
export async function startServer(deps: Deps, options: { host?: string } = {}): Promise<RunningServer> {
  await migrateLatest(deps.db, { sealer: deps.sealer });
  await ensureKeys(deps);
  await ensureFirstPartyClients(deps);
  const live = await startLiveProvider(deps);
  const provider = live.current;
  const app = await createApp(deps, provider);

  const feed = startChangeFeed(deps.db.knex, {
    intervalMs: deps.config.cache.pollIntervalMs,
    log: deps.log,
    onChange: (topic) => {
      if (topic === 'keys') live.keysChanged();
      else deps.catalog.invalidate(topic);
    },
  });
  const jobs: Job[] = [startCleanup(deps), startKeyRetirement(deps), startMailDelivery(deps), startWebhookDelivery(deps), startBackchannelLogout(deps, provider)].filter((job): job is Job => job !== undefined);
  // Resolves once the runs in progress have ended: the caller closes the database next.
  const stopJobs = () => Promise.all(jobs.map((job) => job.stop()));
  let control: ControlServer | undefined;
  let ops: OpsServer | undefined;
  const listener = createDrainableServer(app.callback());
  try {
    if (deps.db.engine === 'embedded') control = await startControlServer(deps);
    // LATCHKEY_METRICS_PORT: the probes and /metrics on a port of their own, up before the main one.
    const metricsPort = deps.config.ops.metricsPort;
    if (metricsPort !== undefined) ops = await startOpsServer(deps, { port: metricsPort, host: options.host ?? '0.0.0.0' });
    await new Promise<void>((resolve, reject) => {
      listener.server.once('error', reject);
      listener.server.listen(deps.config.http.port, options.host ?? '0.0.0.0', () => resolve());
    });
  } catch (error) {
    feed.stop();
    await stopJobs();
    await live.stop();
    await control?.close();
    await ops?.close();
    throw error;
  }
  if (deps.config.env === 'production' && deps.config.ops.metricsPort === undefined && !deps.config.ops.metricsToken) {
    deps.log.warn('/metrics is open to anyone who can reach the main port: set LATCHKEY_METRICS_PORT (a port inside your network) or LATCHKEY_METRICS_TOKEN');
  }
  return {
    async close() {
      markDraining(deps);
      // Stop listening first, so the load balancer's next attempt goes to another node at once.
      const drained = listener.drain(deps.config.ops.shutdownTimeoutMs);
      feed.stop();
      const jobsStopped = stopJobs();
      const rebuildsStopped = live.stop();
      await control?.close();
      await drained;
      await jobsStopped;
      await rebuildsStopped;
      // Last, so /readyz there says not ready and metrics are scraped while the main port drains.
      await ops?.close();
    },
  };
}
