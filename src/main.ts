import { assertServable, type Config } from './config.js';
import { createDeps } from './deps.js';

/** `latchkey serve`: runs until SIGTERM/SIGINT, then drains and exits 0. */
export async function serve(config: Config): Promise<void> {
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
  deps.log.info({ issuer, port: config.http.port, engine: deps.db.engine, env: config.env }, 'Latchkey is listening');
  if (config.env === 'development') printQuickStart(issuer, deps.db.engine === 'embedded' ? config.db.dataDir : undefined);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    deps.log.info({ signal }, 'shutting down');
    await server.close();
    await deps.db.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
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
