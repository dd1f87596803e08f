import fs from 'node:fs/promises';
import path from 'node:path';
import { LatchkeyError } from '../errors.js';

export interface DataDirLock {
  release(): Promise<void>;
}

interface LockOwner {
  pid: number;
  holder: string;
}

export function lockPath(dataDir: string): string {
  return path.join(dataDir, 'latchkey.lock');
}

/**
 * PGlite cannot be opened by two processes. The lock file names its owner's pid, so a lock
 * left by a killed process is recognised (that pid is gone) and taken over.
 */
export async function acquireDataDirLock(dataDir: string, holder: string): Promise<DataDirLock> {
  const file = lockPath(dataDir);
  const owner: LockOwner = { pid: process.pid, holder };
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      await fs.writeFile(file, JSON.stringify(owner), { flag: 'wx', mode: 0o600 });
      return {
        async release() {
          const current = await readOwner(file);
          if (current?.pid === process.pid) await fs.rm(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const current = await readOwner(file);
      if (current && isAlive(current.pid)) {
        throw new LatchkeyError(
          'data_dir.locked',
          `the data directory ${dataDir} is in use by a Latchkey ${current.holder} (pid ${current.pid}); stop it or use another LATCHKEY_DATA_DIR`,
        );
      }
      await fs.rm(file, { force: true });
    }
  }
  throw new LatchkeyError('data_dir.locked', `could not lock the data directory ${dataDir}`);
}

/** The pid of a live process holding the lock, if any. */
export async function lockOwner(dataDir: string): Promise<LockOwner | undefined> {
  const current = await readOwner(lockPath(dataDir));
  return current && isAlive(current.pid) ? current : undefined;
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<LockOwner>;
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
