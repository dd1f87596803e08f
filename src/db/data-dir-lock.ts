import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { LatchkeyError } from '../errors.js';

export interface DataDirLock {
  release(): Promise<void>;
}

export interface LockOwner {
  pid: number;
  /** `server` or `cli`: the CLI hands its work to a server through the control socket. */
  holder: string;
}

/**
 * PGlite cannot be opened by two processes, so one process at a time owns a data dir.
 *
 * On Linux the lock is an abstract Unix socket named after the data dir: binding it is atomic
 * and the kernel releases it when the owner dies, so a killed server leaves nothing stale
 * behind and a reused pid cannot be mistaken for the owner. Connecting to it tells who holds it.
 * Elsewhere (macOS) a lock file created with O_EXCL records the owner's pid instead.
 */
export async function acquireDataDirLock(dataDir: string, holder: string): Promise<DataDirLock> {
  const owner: LockOwner = { pid: process.pid, holder };
  return process.platform === 'linux' ? acquireSocketLock(dataDir, owner) : acquireFileLock(dataDir, owner);
}

/** Who holds the data dir, if a live process does. */
export async function lockOwner(dataDir: string): Promise<LockOwner | undefined> {
  return process.platform === 'linux' ? socketLockOwner(dataDir) : fileLockOwner(dataDir);
}

function lockedError(dataDir: string, owner: LockOwner | undefined): LatchkeyError {
  const who = owner ? `a Latchkey ${owner.holder} (pid ${owner.pid})` : 'another Latchkey process';
  return new LatchkeyError('data_dir.locked', `the data directory ${dataDir} is in use by ${who}; stop it or use another LATCHKEY_DATA_DIR`);
}

async function abstractName(dataDir: string): Promise<string> {
  const real = await fs.realpath(dataDir);
  return `\0latchkey-data-dir:${createHash('sha256').update(real).digest('hex')}`;
}

async function acquireSocketLock(dataDir: string, owner: LockOwner): Promise<DataDirLock> {
  const name = await abstractName(dataDir);
  const server = net.createServer((socket) => socket.end(JSON.stringify(owner)));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(name, () => resolve());
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw lockedError(dataDir, await socketLockOwner(dataDir));
    throw error;
  }
  // Holding the lock must not keep a finished CLI process alive.
  server.unref();
  return {
    release: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function socketLockOwner(dataDir: string): Promise<LockOwner | undefined> {
  let name: string;
  try {
    name = await abstractName(dataDir);
  } catch {
    return undefined;
  }
  return new Promise((resolve) => {
    const socket = net.createConnection(name);
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('end', () => resolve(parseOwner(data)));
    socket.on('error', () => resolve(undefined));
  });
}

function lockPath(dataDir: string): string {
  return path.join(dataDir, 'latchkey.lock');
}

async function acquireFileLock(dataDir: string, owner: LockOwner): Promise<DataDirLock> {
  const file = lockPath(dataDir);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      await fs.writeFile(file, JSON.stringify(owner), { flag: 'wx', mode: 0o600 });
      return {
        async release() {
          if ((await fileLockOwner(dataDir))?.pid === process.pid) await fs.rm(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const current = parseOwner(await fs.readFile(file, 'utf8').catch(() => ''));
      if (!current || isAlive(current.pid)) throw lockedError(dataDir, current);
      await fs.rm(file, { force: true });
    }
  }
  throw lockedError(dataDir, undefined);
}

async function fileLockOwner(dataDir: string): Promise<LockOwner | undefined> {
  const current = parseOwner(await fs.readFile(lockPath(dataDir), 'utf8').catch(() => ''));
  return current && isAlive(current.pid) ? current : undefined;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>;
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, holder: String(parsed.holder ?? 'process') } : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
