import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Deps } from '../deps.js';
import { errorFromJSON, LatchkeyError } from '../errors.js';
import { runOperation } from './operations.js';

/** Newline-delimited JSON: one request `{ operation, input }`, one reply `{ result }` or `{ error }`. */
export function controlSocketPath(dataDir: string): string {
  return path.join(dataDir, 'latchkey.sock');
}

const MAX_REQUEST_BYTES = 1024 * 1024;

export interface ControlServer {
  close(): Promise<void>;
}

/**
 * The embedded database belongs to the server process, so while it runs the CLI sends its
 * operations here. The socket is mode 0600 in the data dir: only the owner may use it.
 */
export async function startControlServer(deps: Deps): Promise<ControlServer> {
  const file = controlSocketPath(deps.config.db.dataDir);
  // We hold the data-dir lock, so a socket file left here is from a process that died.
  await fs.rm(file, { force: true });
  const server = net.createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST_BYTES) {
        socket.destroy();
        return;
      }
      const newline = buffer.indexOf('\n');
      if (newline === -1) return;
      const line = buffer.slice(0, newline);
      buffer = '';
      void answer(deps, line).then((reply) => socket.end(`${JSON.stringify(reply)}\n`));
    });
    socket.on('error', () => socket.destroy());
  });
  const previousMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(file, () => resolve());
    });
  } finally {
    process.umask(previousMask);
  }
  await fs.chmod(file, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}

async function answer(deps: Deps, line: string): Promise<{ result: unknown } | { error: unknown }> {
  try {
    const request = JSON.parse(line) as { operation?: unknown; input?: unknown };
    return { result: await runOperation(deps, String(request.operation), request.input) };
  } catch (error) {
    if (error instanceof LatchkeyError) return { error: error.toJSON() };
    deps.log.error({ err: error }, 'control operation failed');
    return { error: new LatchkeyError('internal').toJSON() };
  }
}

/** Sends one operation to the server that owns the data dir. */
export async function callControlServer(dataDir: string, operation: string, input: unknown): Promise<unknown> {
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = net.createConnection(controlSocketPath(dataDir));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify({ operation, input })}\n`));
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('end', () => resolve(data));
    socket.on('error', (error) =>
      reject(new LatchkeyError('control.unavailable', `the running server did not answer on ${controlSocketPath(dataDir)}: ${error.message}`)),
    );
  });
  let parsed: { result?: unknown; error?: Record<string, unknown> };
  try {
    parsed = JSON.parse(reply) as typeof parsed;
  } catch {
    throw new LatchkeyError('control.unavailable', 'the running server sent an unreadable answer');
  }
  if (parsed.error) throw errorFromJSON(parsed.error);
  return parsed.result;
}
