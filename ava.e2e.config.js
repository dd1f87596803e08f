// The browser tests of test/e2e (`npm run test:e2e`): a real Chromium against the real server.
// On PostgreSQL when DATABASE_URL is set, on the embedded database otherwise, like `npm test`.
const engine = process.env.DATABASE_URL ? 'postgres' : 'embedded';

export default {
  files: ['test/e2e/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  // Generous: a loaded 2-core machine slows a browser a lot; a quiet one runs the lot in about a minute.
  timeout: '3m',
  environmentVariables: { LATCHKEY_TEST_ENGINE: engine },
};
