import cluster from 'node:cluster';
import { joinCluster, serveCluster } from './cluster.js';
import { assertServable, type Config } from './config.js';
import { createDeps } from './deps.js';

/**
 * `latchkey serve`: runs until SIGTERM or SIGINT, then drains and exits 0. With `workers`, this
 * process is the primary of that many worker processes, each of which runs the whole server.
 */
export async function serve(config: Config, options: { workers?: number } = {}): Promise<void> {
  if (options.workers !== undefined && cluster.isPrimary) return serveCluster(config, options.workers);
  assertServable(config);
  const deps = await createDeps(config);
  let server;
  try {
    // Loaded after the database (and the data-dir lock) is open, so a refused start says only why.
    const { startServer } = await import('./server.js');
    server = await startServer(deps);
  } catch (error) {
    await deps.db.close();
    throw error;
  }
  const { issuer } = config.http;
  deps.log.info({ issuer, port: config.http.port, engine: deps.db.engine, env: config.env, pid: process.pid }, 'Latchkey is listening');
  if (config.env === 'development' && cluster.isPrimary) printQuickStart(issuer, deps.db.engine === 'embedded' ? config.db.dataDir : undefined);

  let stopping = false;
  const stop = async (reason: string) => {
    stopping = true;
    deps.log.info({ reason, timeoutMs: config.ops.shutdownTimeoutMs }, 'shutting down: finishing the requests in flight');
    try {
      await server.close();
      await deps.db.close();
    } catch (error) {
      deps.log.error({ err: error }, 'could not shut down cleanly');
      process.exit(1);
    }
    deps.log.info('stopped');
    process.exit(0);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopping) {
      void stop(signal);
      return;
    }
    // A second Ctrl-C means now. A second SIGTERM does not: timeout(1) and signals to a process
    // group deliver it twice, and a supervisor out of patience sends SIGKILL anyway.
    if (signal !== 'SIGINT') return;
    deps.log.warn({ signal }, 'second interrupt during shutdown: exiting without waiting for the requests in flight');
    process.exit(1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Ctrl-C reaches the workers and the primary alike, so the primary's request to stop may come
  // after a signal already did: it is not a second signal.
  if (cluster.isWorker) {
    joinCluster(deps.metrics.registry, () => {
      if (!stopping) void stop('asked by the primary');
    });
  }
}

function printQuickStart(issuer: string, dataDir: string | undefined): void {
  const lines = [
    '',
    `  Latchkey is running at ${issuer}`,
    `  Issuer:    ${issuer}`,
    `  Discovery: ${issuer}/.well-known/openid-configuration`,
    `  Admin:     ${issuer}/admin`,
    `  Account:   ${issuer}/account`,
    ...(dataDir ? [`  Data:      ${dataDir} (embedded PostgreSQL)`] : []),
    '',
    '  Next, in another terminal:',
    '    npx latchkey users create --email you@example.com --name "You" --admin',
    `    npx latchkey clients create --name "My App" --redirect-uri http://localhost:8080/callback`,
    '',
    `  Then sign in to the admin console, and point your app at ${issuer}.`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
