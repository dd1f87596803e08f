import type { Config } from './config.js';
import { createCatalog, type Catalog } from './cache/catalog.js';
import { openDatabase, type Database } from './db/connect.js';
import { createLogger, type Logger } from './log.js';
import { createPasswordHasher, type PasswordHasher } from './domain/passwords.js';

/** Everything a domain function needs; one per process (tests build their own). */
export interface Deps {
  readonly config: Config;
  readonly db: Database;
  readonly log: Logger;
  readonly passwords: PasswordHasher;
  readonly catalog: Catalog;
}

export async function createDeps(
  config: Config,
  options: { log?: Logger; db?: Database; lockHolder?: string } = {},
): Promise<Deps> {
  const log = options.log ?? createLogger(config);
  const db = options.db ?? (await openDatabase(config, options.lockHolder ? { lockHolder: options.lockHolder } : {}));
  return {
    config,
    db,
    log,
    passwords: createPasswordHasher(config.argon2),
    catalog: createCatalog(db.knex),
  };
}
