// The engine of this run decides which engine-specific files apply: a plain `npm test` (no
// DATABASE_URL) runs on the embedded database; CI also runs it with DATABASE_URL set.
const engine = process.env.DATABASE_URL ? 'postgres' : 'embedded';
const other = engine === 'postgres' ? 'embedded' : 'postgres';

// The CLI's command files test flags and output, through the same domain functions on either
// engine, so they run once, on PostgreSQL. On the embedded engine, cli.test.ts (the CLI opening
// the data dir itself) and test/embedded/cli-with-running-server.test.ts (the CLI through a
// running server's control socket) cover what differs.
const onceOnPostgres = ['test/cli/clients.test.ts', 'test/cli/users.test.ts', 'test/cli/resources-and-tokens.test.ts', 'test/cli/keys.test.ts', 'test/cli/webhooks.test.ts', 'test/cli/token-exchange-policies.test.ts'];

// test/e2e drives a real browser; it runs apart, with `npm run test:e2e` (ava.e2e.config.js).
export default {
  files: ['test/**/*.test.ts', `!test/${other}/**`, '!test/e2e/**', ...(engine === 'embedded' ? onceOnPostgres.map((file) => `!${file}`) : [])],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  timeout: '2m',
  // On PostgreSQL the test processes mostly wait on the database server, so more of them at
  // once finish sooner; the embedded database computes in-process and is fastest at one per core.
  ...(engine === 'postgres' ? { concurrency: 4 } : {}),
  environmentVariables: { LATCHKEY_TEST_ENGINE: engine },
};
