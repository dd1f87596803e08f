// The engine of this run decides which engine-specific files apply: a plain `npm test` (no
// DATABASE_URL) runs on the embedded database; CI also runs it with DATABASE_URL set.
const engine = process.env.DATABASE_URL ? 'postgres' : 'embedded';
const other = engine === 'postgres' ? 'embedded' : 'postgres';

export default {
  files: ['test/**/*.test.ts', `!test/${other}/**`],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  timeout: '2m',
  // On PostgreSQL the test processes mostly wait on the database server, so more of them at
  // once finish sooner; the embedded database computes in-process and is fastest at one per core.
  ...(engine === 'postgres' ? { concurrency: 4 } : {}),
  environmentVariables: { LATCHKEY_TEST_ENGINE: engine },
};
