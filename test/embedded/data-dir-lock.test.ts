import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { acquireDataDirLock, lockOwner } from '../../src/db/data-dir-lock.js';

const run = promisify(execFile);
const lockModule = fileURLToPath(new URL('../../src/db/data-dir-lock.ts', import.meta.url));

// Each contender tries to take the lock, holds it a moment if it got it, and says which.
const contender = `
import { acquireDataDirLock } from ${JSON.stringify(lockModule)};
try {
  const lock = await acquireDataDirLock(process.argv[1], 'contender');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await lock.release();
  console.log('won');
} catch (error) {
  console.log(error.code === 'data_dir.locked' ? 'refused' : 'error ' + error.message);
}`;

test('of processes started together on one data dir exactly one gets it', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-lock-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const outcomes = await Promise.all(
    Array.from({ length: 5 }, async () => {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', contender, dataDir]);
      return stdout.trim();
    }),
  );
  t.deepEqual(outcomes.sort(), ['refused', 'refused', 'refused', 'refused', 'won']);
});

test('the lock says who holds it and is free again once released', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-lock-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const lock = await acquireDataDirLock(dataDir, 'server');
  t.deepEqual(await lockOwner(dataDir), { pid: process.pid, holder: 'server' });
  const error = await t.throwsAsync(acquireDataDirLock(dataDir, 'cli'));
  t.regex(error?.message ?? '', new RegExp(`${dataDir}.*in use by a Latchkey server \\(pid ${process.pid}\\)`));
  await lock.release();
  t.is(await lockOwner(dataDir), undefined);
  await (await acquireDataDirLock(dataDir, 'cli')).release();
});
