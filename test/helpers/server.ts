import net from 'node:net';
import { loadConfig, type Config } from '../../src/config.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export interface TestServer {
  readonly issuer: string;
  readonly config: Config;
  readonly deps: Deps;
  readonly database: TestDatabase;
  /** Stops this server and starts a new one on the same database and port. */
  restart(): Promise<TestServer>;
  /** Stops the server; safe to call twice. */
  close(): Promise<void>;
  /** Stops the server and drops its database. */
  dispose(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Test-speed argon2 (the defaults are checked separately) and a fast change feed. */
export const testEnv: Record<string, string> = {
  LATCHKEY_LOG_LEVEL: 'silent',
  LATCHKEY_ARGON2_MEMORY_KIB: '1024',
  LATCHKEY_ARGON2_TIME: '1',
  LATCHKEY_CACHE_POLL_INTERVAL: '100ms',
  // Every node of a deployment shares one master key; the tests' servers share this one.
  LATCHKEY_SECRET: 'test-master-key-0123456789abcdefghijklmnopqrstuvwxyz',
};

async function boot(database: TestDatabase, port: number, env: Record<string, string>, options: TestServerOptions): Promise<TestServer> {
  const config = loadConfig({
    ...testEnv,
    ...database.env,
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    ...env,
  });
  const deps = await createDeps(config, { log: createLogger(config, options.logDestination) });
  let running: RunningServer;
  try {
    running = await startServer(deps, { host: '127.0.0.1' });
  } catch (error) {
    await deps.db.close();
    throw error;
  }
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= running.close().then(() => deps.db.close());
    return stopped;
  };
  return {
    issuer: config.http.issuer,
    config,
    deps,
    database,
    async restart() {
      await stop();
      return boot(database, port, env, options);
    },
    close: stop,
    async dispose() {
      await stop();
      await database.drop();
    },
  };
}

export interface TestServerOptions {
  /** Where the server's log lines go (a test reads them); none means the usual output. */
  logDestination?: NodeJS.WritableStream;
}

/** The real server (migrations, keys, provider, HTTP) on a database of its own, in this test process. */
export async function startTestServer(env: Record<string, string> = {}, database?: TestDatabase, options: TestServerOptions = {}): Promise<TestServer> {
  const db = database ?? (await createTestDatabase());
  // A free port can be taken by another test process before this one listens on it: try another.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await boot(db, await freePort(), env, options);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EADDRINUSE' || attempt === 3) throw error;
    }
  }
}
