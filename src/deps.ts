import type { Config } from './config.js';
import { createCatalog, type Catalog } from './cache/catalog.js';
import { openDatabase, type Database } from './db/connect.js';
import { createLogger, type Logger } from './log.js';
import { createPasswordHasher, type PasswordHasher } from './domain/passwords.js';
import { createMetrics, type Metrics } from './metrics.js';
import { loadSealer } from './secrets/master-key.js';
import type { Sealer } from './secrets/sealer.js';

/** Everything a domain function needs; one per process (tests build their own). */
export interface Deps {
  readonly config: Config;
  readonly db: Database;
  readonly log: Logger;
  readonly passwords: PasswordHasher;
  readonly catalog: Catalog;
  /** Encrypts and decrypts what is kept secret at rest (private keys, cookie secrets). */
  readonly sealer: Sealer;
  /** This process's Prometheus metrics. */
  readonly metrics: Metrics;
}

export async function createDeps(
  config: Config,
  options: { log?: Logger; db?: Database; lockHolder?: string } = {},
): Promise<Deps> {
  const log = options.log ?? createLogger(config);
  const db = options.db ?? (await openDatabase(config, { log, ...(options.lockHolder ? { lockHolder: options.lockHolder } : {}) }));
  let sealer: Sealer;
  try {
    sealer = await loadSealer(config, log);
  } catch (error) {
    if (!options.db) await db.close();
    throw error;
  }
  return {
    config,
    db,
    log,
    passwords: createPasswordHasher(config.argon2),
    catalog: createCatalog(db.knex),
    sealer,
    metrics: createMetrics(db, log),
  };
}
