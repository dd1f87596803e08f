import http from 'node:http';
import net from 'node:net';
import test from 'ava';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli, startServerProcess, type Exit, type ServerProcess } from '../helpers/processes.js';
import { basic } from '../helpers/rp.js';

// Real `latchkey serve` processes get real signals while a token request is in flight. The
// request is held open by its body: it is sent with `Expect: 100-continue`, so the server's
// "100 Continue" proves the server has it, and the body follows only when the test says so.

const databases: TestDatabase[] = [];
const servers: ServerProcess[] = [];

test.after.always(async () => {
  await Promise.all(servers.map((server) => server.kill()));
  await Promise.all(databases.map((database) => database.drop()));
});

interface Started {
  server: ServerProcess;
  client: { id: string; secret: string };
}

async function start(env: Record<string, string>): Promise<Started> {
  const database = await createTestDatabase();
  databases.push(database);
  const server = await startServerProcess({ ...database.env, ...env });
  servers.push(server);
  const created = await runCli(['clients', 'create', '--name', 'Machine', '--grant', 'client_credentials', '--json'], database.env);
  if (created.code !== 0) throw new Error(`clients create failed: ${created.stderr}`);
  const client = JSON.parse(created.stdout) as { client_id: string; client_secret: string };
  return { server, client: { id: client.client_id, secret: client.client_secret } };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

interface HeldRequest {
  /** Resolves once the server has the request (it answered 100 Continue). */
  received: Promise<void>;
  /** Sends the body, so the server can answer. */
  finish(): void;
  answer: Promise<Answer>;
}

function heldTokenRequest(port: number, client: Started['client']): HeldRequest {
  const body = new URLSearchParams({ grant_type: 'client_credentials' }).toString();
  const request = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/token',
    agent: false,
    headers: {
      authorization: basic(client.id, client.secret),
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': Buffer.byteLength(body),
      accept: 'application/json',
      expect: '100-continue',
    },
  });
  const received = new Promise<void>((resolve) => request.once('continue', () => resolve()));
  const answer = new Promise<Answer>((resolve, reject) => {
    request.once('error', reject);
    request.once('response', (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
      });
      response.once('error', reject);
      response.once('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: JSON.parse(text) as Record<string, unknown> }));
    });
  });
  // Unhandled until the test awaits it; a request that is cut off rejects, which some tests expect.
  answer.catch(() => undefined);
  request.flushHeaders();
  return { received, finish: () => request.end(body), answer };
}

/** Resolves once a new connection to `port` is refused; rejects if that does not happen in time. */
async function refusesConnections(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    });
    if (refused) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`port ${port} still accepted connections after ${timeoutMs} ms`);
}

/** The exit, or undefined if the process is still running after `timeoutMs`. */
async function exitWithin(server: ServerProcess, timeoutMs: number): Promise<Exit | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    return await Promise.race([server.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** An idle keep-alive connection: one request answered, the socket left open. */
async function idleKeepAliveConnection(port: number): Promise<http.Agent> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  await new Promise<void>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/.well-known/openid-configuration', agent }, (response) => {
        response.resume().once('end', () => resolve());
      })
      .once('error', reject);
  });
  return agent;
}

test('on SIGTERM the request in flight gets its normal answer, new connections are refused, and the server exits 0', async (t) => {
  // Far longer than the deadline below: only finishing the work, not the timeout, lets it exit in time.
  const { server, client } = await start({ LATCHKEY_SHUTDOWN_TIMEOUT: '120s' });
  const idle = await idleKeepAliveConnection(server.port);
  const held = heldTokenRequest(server.port, client);
  await held.received;

  process.kill(server.pid, 'SIGTERM');
  await refusesConnections(server.port);
  held.finish();
  const answer = await held.answer;
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.is(typeof answer.body.access_token, 'string');
  t.is(answer.headers.connection, 'close');

  // Neither the idle keep-alive connection nor the finished one holds the server up.
  t.deepEqual(await exitWithin(server, 30_000), { code: 0, signal: null }, server.output().stderr);
  idle.destroy();
});

test('a request that outlasts LATCHKEY_SHUTDOWN_TIMEOUT is cut off, and the server exits 0 even after a second SIGTERM', async (t) => {
  const { server, client } = await start({ LATCHKEY_SHUTDOWN_TIMEOUT: '1s' });
  const held = heldTokenRequest(server.port, client);
  await held.received;

  process.kill(server.pid, 'SIGTERM');
  await refusesConnections(server.port);
  // Some senders (timeout(1), a signal to the process group) deliver SIGTERM twice: still a clean drain.
  void server.stop();
  t.deepEqual(await exitWithin(server, 30_000), { code: 0, signal: null }, server.output().stderr);
  await t.throwsAsync(held.answer);
});

test('a second Ctrl-C during the drain exits at once with code 1', async (t) => {
  const { server, client } = await start({ LATCHKEY_SHUTDOWN_TIMEOUT: '120s' });
  const held = heldTokenRequest(server.port, client);
  await held.received;

  process.kill(server.pid, 'SIGINT');
  await refusesConnections(server.port);
  process.kill(server.pid, 'SIGINT');
  t.deepEqual(await exitWithin(server, 30_000), { code: 1, signal: null }, server.output().stderr);
  await t.throwsAsync(held.answer);
});
