import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import knexFactory from 'knex';
import { createTestDatabase, type TestDatabase } from './db.js';
import { freePort } from './server.js';

/**
 * A real `pgbouncer` on a free local port in front of a fresh database of its own (a schema
 * per test chosen through search_path would not survive transaction pooling). `drop()` stops
 * it and drops the database.
 */
export async function startPgBouncer(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  const directUrl = database.env.DATABASE_URL;
  if (!directUrl) {
    await database.drop();
    throw new Error('pgbouncer needs PostgreSQL: run with DATABASE_URL set');
  }
  const target = new URL(directUrl);
  const name = target.pathname.slice(1);
  const user = decodeURIComponent(target.username) || 'postgres';

  // pgbouncer refuses to run as root; as root the test hands it to the postgres user, who must
  // be able to read the configuration and write the log and pid files.
  const runAs = process.getuid?.() === 0 ? 'postgres' : undefined;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-pgbouncer-'));
  const port = await freePort();
  // Transaction pooling with one server connection, so anything that needs a session (or two
  // connections at once) shows up. These are the settings docs/deployment.md says were tested.
  const settings: Record<string, string> = {
    listen_addr: '127.0.0.1',
    listen_port: String(port),
    unix_socket_dir: '',
    pool_mode: 'transaction',
    default_pool_size: '1',
    max_client_conn: '200',
    auth_type: 'any',
    logfile: path.join(dir, 'pgbouncer.log'),
    pidfile: path.join(dir, 'pgbouncer.pid'),
  };
  const ini = [
    '[databases]',
    `${name} = host=${target.hostname} port=${target.port || '5432'} dbname=${name} user=${user}`,
    '',
    '[pgbouncer]',
    ...Object.entries(settings).map(([key, value]) => `${key} = ${value}`),
    '',
  ].join('\n');
  const iniPath = path.join(dir, 'pgbouncer.ini');
  await fs.writeFile(iniPath, ini);
  if (runAs) {
    const ids = await userIds(runAs);
    await fs.chown(dir, ids.uid, ids.gid);
    await fs.chown(iniPath, ids.uid, ids.gid);
  }

  const child = spawn(pgbouncerBinary(), [...(runAs ? ['-u', runAs] : []), iniPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));

  const pooledUrl = new URL(directUrl);
  pooledUrl.host = `127.0.0.1:${port}`;
  const log = () => fs.readFile(settings.logfile!, 'utf8').catch(() => stderr);

  let stopped: Promise<void> | undefined;
  const stop = () => {
    // SIGTERM is pgbouncer's immediate shutdown: the test's clients are done with it by now.
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await fs.rm(dir, { recursive: true, force: true });
      await database.drop();
    })();
    return stopped;
  };

  // Whichever comes first; the others may settle later, unobserved.
  const probing = answering(pooledUrl.toString());
  for (const outcome of [probing, spawnFailed]) outcome.catch(() => {});
  try {
    await Promise.race([probing, spawnFailed, exited.then(() => Promise.reject(new Error('pgbouncer exited')))]);
  } catch (error) {
    const output = await log();
    await stop();
    throw new Error(`pgbouncer did not start: ${error instanceof Error ? error.message : String(error)}\n${output}`);
  }

  return {
    // Migrations and locks need a session: they go straight to PostgreSQL.
    env: { DATABASE_URL: pooledUrl.toString(), LATCHKEY_DIRECT_DATABASE_URL: directUrl, LATCHKEY_ENV: 'test' },
    drop: stop,
  };
}

/** The Debian package puts it in /usr/sbin, which a non-root PATH often leaves out. */
function pgbouncerBinary(): string {
  return existsSync('/usr/sbin/pgbouncer') ? '/usr/sbin/pgbouncer' : 'pgbouncer';
}

async function userIds(user: string): Promise<{ uid: number; gid: number }> {
  const run = promisify(execFile);
  const [uid, gid] = await Promise.all([run('id', ['-u', user]), run('id', ['-g', user])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Resolves once a query goes through the pooler to PostgreSQL and back. */
async function answering(url: string, timeoutMs = 15_000): Promise<void> {
  const { hostname, port } = new URL(url);
  const deadline = Date.now() + timeoutMs;
  // Knex reports refused connections on the console, so wait for the port before asking it.
  while (!(await accepts(hostname, Number(port)))) {
    if (Date.now() > deadline) throw new Error(`nothing listens on ${hostname}:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const probe = knexFactory({ client: 'pg', connection: { connectionString: url, connectionTimeoutMillis: timeoutMs }, pool: { min: 0, max: 1 } });
  try {
    await probe.raw('SELECT 1');
  } finally {
    await probe.destroy();
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
