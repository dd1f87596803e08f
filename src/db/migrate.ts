import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import type { Sealer } from '../secrets/sealer.js';
import { missingSealer } from '../secrets/sealer.js';
import type { Database } from './connect.js';

const migrationsDir = fileURLToPath(new URL('../../migrations/', import.meta.url));
/** Migrations are in the form this module is: TypeScript from the sources, JavaScript in a build (`npm run build`). */
const EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** What a migration may need besides the database: the master key, to seal secrets stored in plaintext before. */
export interface MigrationContext {
  sealer: Sealer;
}

interface MigrationModule {
  up(knex: Knex, context: MigrationContext): Promise<void>;
  down(knex: Knex, context: MigrationContext): Promise<void>;
}

const MIGRATION_FILE = new RegExp(`^\\d{14}_[a-z0-9_]+\\${EXTENSION}$`);

let known: string[] | undefined;

/** The migrations this code base knows, by name, in order (they ship with the code: read once). */
export function knownMigrations(): string[] {
  known ??= fs
    .readdirSync(migrationsDir)
    .filter((file) => MIGRATION_FILE.test(file))
    .sort()
    .map((file) => file.slice(0, -EXTENSION.length));
  return [...known];
}

// Knex's directory loader guesses module formats; listing the folder ourselves keeps ESM +
// TypeScript (through tsx) predictable and the order the file names give.
function migratorConfig(context: MigrationContext): Knex.MigratorConfig {
  const source: Knex.MigrationSource<string> = {
    getMigrations: async () => knownMigrations(),
    getMigrationName: (name) => name,
    async getMigration(name) {
      const migration = (await import(new URL(`${name}${EXTENSION}`, `file://${migrationsDir}`).href)) as MigrationModule;
      return { up: (knex: Knex) => migration.up(knex, context), down: (knex: Knex) => migration.down(knex, context) };
    },
  };
  return { migrationSource: source, tableName: 'knex_migrations' };
}

const noSecrets: MigrationContext = { sealer: missingSealer() };

/**
 * Applies pending migrations under the bootstrap lock, so concurrent starts run them once, on
 * the direct connection (DDL and the lock need a session, not a transaction pooler).
 */
export async function migrateLatest(db: Database, context: MigrationContext = noSecrets): Promise<string[]> {
  return db.withExclusiveLock(async () => {
    const [, applied] = (await db.direct.migrate.latest(migratorConfig(context))) as [number, string[]];
    return applied;
  });
}

/** Undoes the most recent migration; for taking a database back to test a migration's `up` on real rows. */
export async function rollbackLast(db: Database, context: MigrationContext = noSecrets): Promise<string[]> {
  return db.withExclusiveLock(async () => {
    const [, undone] = (await db.direct.migrate.down(migratorConfig(context))) as [number, string[]];
    return undone;
  });
}
