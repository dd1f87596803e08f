import fs from 'node:fs/promises';
import test from 'ava';
import { controlSocketPath } from '../../src/control/socket.js';
import { lockOwner } from '../../src/db/data-dir-lock.js';
import { Browser } from '../helpers/browser.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { lines, runCli, spawnServer, startServerProcess, type CliResult, type ServerProcess } from '../helpers/processes.js';
import { basic, discover, redeem, signIn, type RelyingParty } from '../helpers/rp.js';
import { freePort, type TestServer } from '../helpers/server.js';

// One data dir and the servers that take turns on it; the steps build on each other, so serial.
let database: TestDatabase;
let dataDir: string;
const servers: ServerProcess[] = [];
let server: ServerProcess;

/** An opaque client_credentials token issued by the first server, checked again after it is killed. */
let worker: { clientId: string; clientSecret: string; accessToken: string };

test.before(async () => {
  database = await createTestDatabase();
  dataDir = database.env.LATCHKEY_DATA_DIR!;
});

test.after.always(async () => {
  await Promise.all(servers.map((running) => running.stop()));
  await database?.drop();
});

async function startServer(port?: number): Promise<ServerProcess> {
  const running = await startServerProcess(database.env, port);
  servers.push(running);
  return running;
}

function cli(args: string[]): Promise<CliResult> {
  return runCli(args, database.env);
}

function parse<T = Record<string, unknown>>(result: CliResult): T {
  if (result.code !== 0) throw new Error(`latchkey exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}


async function postForm(url: string, authorization: string, fields: Record<string, string>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test.serial('with no server running, the CLI opens the data dir itself and lets go of it when done', async (t) => {
  const user = parse(await cli(['users', 'create', '--email', 'offline@example.com', '--password', 'offline-password', '--json']));
  t.is(user.email, 'offline@example.com');
  t.is(await lockOwner(dataDir), undefined, 'the CLI left its lock behind');
  t.false(await exists(controlSocketPath(dataDir)));
});

test.serial('while a server runs, the CLI works through its owner-only control socket and a new client works at once', async (t) => {
  server = await startServer();
  const socket = await fs.stat(controlSocketPath(dataDir));
  t.true(socket.isSocket());
  t.is(socket.mode & 0o777, 0o600);

  // The server holds the data dir, so these only succeed by going through the socket.
  const users = parse<{ items: Array<Record<string, unknown>> }>(await cli(['users', 'list', '--json'])).items;
  t.true(users.some((entry) => entry.email === 'offline@example.com'), 'the server sees what the CLI wrote before it started');

  parse(await cli(['resources', 'create', '--identifier', 'https://api.example', '--scope', 'api:read', '--format', 'opaque', '--json']));
  const client = parse(await cli(['clients', 'create', '--name', 'Worker', '--grant', 'client_credentials', '--resource', 'https://api.example', '--json']));
  const clientId = client.client_id as string;
  const clientSecret = client.client_secret as string;

  const token = await postForm(`${server.issuer}/token`, basic(clientId, clientSecret), {
    grant_type: 'client_credentials',
    resource: 'https://api.example',
    scope: 'api:read',
  });
  t.is(token.status, 200, JSON.stringify(token.body));
  t.is(token.body.token_type, 'Bearer');
  t.is(token.body.scope, 'api:read');
  worker = { clientId, clientSecret, accessToken: token.body.access_token as string };
});

test.serial('through the control socket, bad input still fails with one line naming the flag', async (t) => {
  for (const [args, mentions] of [
    [['clients', 'create', '--name', 'Bad', '--redirect-uri', 'not-a-url'], '--redirect-uri'],
    [['users', 'create', '--email', 'offline@example.com', '--password', 'another-password'], 'already'],
    [['clients', 'delete', 'no-such-client'], 'no-such-client'],
  ] as const) {
    const result = await cli([...args]);
    t.not(result.code, 0);
    t.is(result.stdout, '');
    const [line, ...rest] = lines(result.stderr);
    t.deepEqual(rest, [], result.stderr);
    t.true(line?.startsWith('error: ') && line.includes(mentions), result.stderr);
  }
});

test.serial('a user and a client created with the CLI while the server runs can sign in at once', async (t) => {
  const user = parse(await cli(['users', 'create', '--email', 'online@example.com', '--name', 'Online', '--password', 'online-password', '--json']));
  const client = parse(
    await cli(['clients', 'create', '--name', 'Web', '--redirect-uri', 'https://rp.example/callback', '--post-logout-redirect-uri', 'https://rp.example/signed-out', '--json']),
  );
  const clientId = client.client_id as string;
  const clientSecret = client.client_secret as string;
  // discover() only reads the issuer.
  const rp: RelyingParty = {
    config: await discover({ issuer: server.issuer } as TestServer, clientId, clientSecret),
    clientId,
    clientSecret,
    redirectUri: 'https://rp.example/callback',
  };
  const { callback, request } = await signIn(new Browser(), rp, { email: 'online@example.com', password: 'online-password' });
  const tokens = await redeem(rp, callback, request);
  t.is(tokens.claims()?.sub, user.id as string);
});

test.serial('a second server on the same data dir stops at once with one line naming the directory', async (t) => {
  const second = spawnServer(database.env, await freePort());
  servers.push(second);
  const exit = await second.exited;
  t.not(exit.code, 0);
  const { stdout, stderr } = second.output();
  t.is(stdout, '');
  // The data dir is checked before the provider loads, so its Node.js version warning never shows here.
  const [message, ...rest] = lines(stderr);
  t.deepEqual(rest, [], stderr);
  t.true(message?.startsWith('error: '), stderr);
  t.true(message!.includes(dataDir), stderr);
  t.false(stderr.includes('    at '));
  // The first server is untouched.
  const discovery = await fetch(`${server.issuer}/.well-known/openid-configuration`);
  t.is(discovery.status, 200);
});

test.serial('after kill -9 a new server starts on the data dir and tokens issued before still work', async (t) => {
  t.truthy(worker, 'needs the token from the earlier step');
  t.deepEqual(await lockOwner(dataDir), { pid: server.pid, holder: 'server' });
  const killed = await server.kill();
  t.is(killed.signal, 'SIGKILL');
  // What a crash leaves behind: a dead control socket file. The lock died with the process.
  t.true(await exists(controlSocketPath(dataDir)));
  t.is(await lockOwner(dataDir), undefined);

  server = await startServer(server.port);
  const introspection = await postForm(`${server.issuer}/token/introspection`, basic(worker.clientId, worker.clientSecret), {
    token: worker.accessToken,
  });
  t.is(introspection.status, 200);
  t.is(introspection.body.active, true, JSON.stringify(introspection.body));
  t.is(introspection.body.client_id, worker.clientId);
  t.is(introspection.body.scope, 'api:read');

  // The socket file the killed server left is replaced by the new server's.
  const clients = parse<{ items: Array<Record<string, unknown>> }>(await cli(['clients', 'list', '--json'])).items;
  t.true(clients.some((entry) => entry.client_id === worker.clientId));
});

test.serial('a server stopped with SIGTERM exits 0 and frees the data dir', async (t) => {
  const exit = await server.stop();
  t.deepEqual(exit, { code: 0, signal: null });
  t.is(await lockOwner(dataDir), undefined);
  t.false(await exists(controlSocketPath(dataDir)));
});
