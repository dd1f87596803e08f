import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import type { Database } from './connect.js';

const migrationsDir = fileURLToPath(new URL('../../migrations/', import.meta.url));

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

// Knex's directory loader guesses module formats; listing the folder ourselves keeps ESM +
// TypeScript (through tsx) predictable and the order the file names give.
const source: Knex.MigrationSource<string> = {
  getMigrations: async () =>
    fs
      .readdirSync(migrationsDir)
      .filter((file) => /^\d{14}_[a-z0-9_]+\.ts$/.test(file))
      .sort(),
  getMigrationName: (file) => file.replace(/\.ts$/, ''),
  getMigration: async (file) => (await import(new URL(file, `file://${migrationsDir}`).href)) as MigrationModule,
};

const migratorConfig = { migrationSource: source, tableName: 'knex_migrations' };

/** Applies pending migrations under the bootstrap lock, so concurrent starts run them once. */
export async function migrateLatest(db: Database): Promise<string[]> {
  return db.withExclusiveLock(async () => {
    const [, applied] = (await db.knex.migrate.latest(migratorConfig)) as [number, string[]];
    return applied;
  });
}

/** Undoes the most recent migration; for taking a database back to test a migration's `up` on real rows. */
export async function rollbackLast(db: Database): Promise<string[]> {
  return db.withExclusiveLock(async () => {
    const [, undone] = (await db.knex.migrate.down(migratorConfig)) as [number, string[]];
    return undone;
  });
}
