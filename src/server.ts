import http from 'node:http';
import { createApp } from './app.js';
import { startChangeFeed } from './cache/change-feed.js';
import { startControlServer, type ControlServer } from './control/socket.js';
import { migrateLatest } from './db/migrate.js';
import type { Deps } from './deps.js';
import { ensureFirstPartyClients } from './domain/first-party-clients.js';
import { ensureKeys, loadKeys } from './domain/keys.js';
import { startBackchannelLogout } from './jobs/backchannel-logout.js';
import { startCleanup } from './jobs/cleanup.js';
import type { Job } from './jobs/every.js';
import { startMailDelivery } from './jobs/mail-delivery.js';
import { createProvider } from './oidc/provider.js';

export interface RunningServer {
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
  let keys = await loadKeys(deps);
  let provider = createProvider(deps, keys);
  const app = await createApp(deps, () => provider);

  // oidc-provider reads its keys only when built: a key change anywhere, or a key reaching the
  // moment it starts or stops signing, rebuilds it here, and requests move to the new one as
  // soon as it is ready. Rebuilds run one after another.
  let rebuilding = Promise.resolve();
  let transitionTimer: NodeJS.Timeout | undefined;
  const scheduleTransition = (retryMs?: number) => {
    clearTimeout(transitionTimer);
    if (!keys.nextTransition && retryMs === undefined) return;
    // setTimeout holds at most about 24.8 days; a later transition is looked at again then.
    const untilTransition = keys.nextTransition ? Math.max(keys.nextTransition.getTime() - Date.now(), 0) + 50 : Infinity;
    transitionTimer = setTimeout(rebuildProvider, Math.min(untilTransition, retryMs ?? Infinity, 2 ** 31 - 1)).unref();
  };
  const rebuildProvider = () => {
    rebuilding = rebuilding
      .then(async () => {
        keys = await loadKeys(deps);
        provider = createProvider(deps, keys);
        deps.log.info('signing keys changed; the provider now uses the new set');
        scheduleTransition();
      })
      .catch((error: unknown) => {
        deps.log.error({ err: error }, 'could not load the new signing keys; keeping the current ones and trying again');
        scheduleTransition(5000);
      });
  };
  scheduleTransition();

  const feed = startChangeFeed(deps.db.knex, {
    intervalMs: deps.config.cache.pollIntervalMs,
    log: deps.log,
    onChange: (topic) => {
      if (topic === 'keys') rebuildProvider();
      else deps.catalog.invalidate(topic);
    },
  });
  const jobs: Job[] = [startCleanup(deps), startMailDelivery(deps), startBackchannelLogout(deps, () => provider)].filter((job): job is Job => job !== undefined);
  const stopJobs = () => {
    for (const job of jobs) job.stop();
  };
  let control: ControlServer | undefined;
  const server = http.createServer(app.callback());
  try {
    if (deps.db.engine === 'embedded') control = await startControlServer(deps);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(deps.config.http.port, options.host ?? '0.0.0.0', () => resolve());
    });
  } catch (error) {
    feed.stop();
    stopJobs();
    clearTimeout(transitionTimer);
    await control?.close();
    throw error;
  }
  return {
    async close() {
      feed.stop();
      stopJobs();
      clearTimeout(transitionTimer);
      await control?.close();
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
