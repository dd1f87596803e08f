import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { restartDelay } from '../../src/cluster.js';
import { lines, runCli } from '../helpers/processes.js';

// What `serve --workers` refuses before it starts anything; the workers themselves are in
// test/postgres/workers.test.ts.

// Never created: each of these fails before anything touches the data dir.
const env = { LATCHKEY_DATA_DIR: path.join(os.tmpdir(), 'latchkey-serve-workers-never-created') };

test('serve --workers without DATABASE_URL fails at once with one line saying why', async (t) => {
  const result = await runCli(['serve', '--workers', '2'], env);
  t.is(result.code, 1);
  t.is(result.stdout, '');
  t.deepEqual(lines(result.stderr), [
    'error: --workers needs DATABASE_URL: the embedded database belongs to one process (serve without --workers, or use PostgreSQL)',
  ]);
});

test('serve --workers takes a whole number from 1 to 64', async (t) => {
  const values = ['0', '65', 'two', '1.5', '-1', ''];
  const results = await Promise.all(values.map((value) => runCli(['serve', '--workers', value], env)));
  for (const [index, result] of results.entries()) {
    t.is(result.code, 2, values[index]);
    t.deepEqual(lines(result.stderr), ['error: --workers takes a whole number from 1 to 64 (see "latchkey help")'], values[index]);
  }
});

test('a worker that keeps dying young is replaced ever more slowly, up to 30 s apart', (t) => {
  t.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 20].map(restartDelay), [0, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});
