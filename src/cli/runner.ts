import type { Config } from '../config.js';
import { callControlServer } from '../control/socket.js';
import { runOperation, type OperationInput, type OperationName } from '../control/operations.js';
import { lockOwner } from '../db/data-dir-lock.js';
import { migrateLatest } from '../db/migrate.js';
import { createDeps, type Deps } from '../deps.js';
import { createLogger } from '../log.js';

/**
 * Runs one operation where the data lives: through the control socket when a server owns the
 * embedded database, otherwise against the database directly (PostgreSQL, or the data dir
 * opened by this process).
 */
export async function execute<N extends OperationName>(config: Config, name: N, input: OperationInput<N>): Promise<unknown> {
  if (!config.db.url) {
    const owner = await lockOwner(config.db.dataDir);
    if (owner?.holder === 'server') return callControlServer(config.db.dataDir, name, input);
  }
  return withOwnDatabase(config, async (deps) => {
    await migrateLatest(deps.db, { sealer: deps.sealer });
    return runOperation(deps, name, input);
  });
}

/** Opens the database for this CLI process (logging warnings to stderr only), runs `work`, closes it. */
export async function withOwnDatabase<T>(config: Config, work: (deps: Deps) => Promise<T>): Promise<T> {
  const log = createLogger({ log: { level: 'warn', pretty: false } }, process.stderr);
  const deps = await createDeps(config, { log, lockHolder: 'cli' });
  try {
    return await work(deps);
  } finally {
    await deps.db.close();
  }
}
