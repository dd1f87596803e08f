import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory from 'knex';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/connect.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { adminDatabaseUrl, engine } from './engines.js';

/** Where one test file's data lives: a database of its own, or a data dir of its own. */
export interface TestDatabase {
  /** Environment variables that point Latchkey at it. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  return engine === 'postgres' ? createPostgresDatabase() : createEmbeddedDataDir();
}

async function createPostgresDatabase(): Promise<TestDatabase> {
  const name = `latchkey_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: adminDatabaseUrl!, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE DATABASE ${name}`);
  } finally {
    await admin.destroy();
  }
  const url = new URL(adminDatabaseUrl!);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString(), LATCHKEY_ENV: 'test' },
    async drop() {
      const cleanup = knexFactory({ client: 'pg', connection: adminDatabaseUrl!, pool: { min: 0, max: 1 } });
      try {
        await cleanup.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await cleanup.destroy();
      }
    },
  };
}

const migrationsDir = fileURLToPath(new URL('../../migrations/', import.meta.url));

/**
 * A fresh PGlite takes seconds to initialise and migrate, so the first test process builds a
 * migrated template (keyed by the migrations' content) and every test copies it.
 */
async function migratedTemplate(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of (await fs.readdir(migrationsDir)).sort()) {
    hash.update(file).update(await fs.readFile(path.join(migrationsDir, file)));
  }
  const template = path.join(os.tmpdir(), `latchkey-pglite-template-${hash.digest('hex').slice(0, 16)}`);
  const ready = path.join(template, 'READY');
  const building = `${template}.building`;
  for (;;) {
    if (await exists(ready)) return template;
    try {
      await fs.mkdir(building);
    } catch {
      // Another test process is building it; a builder that died leaves a stale folder behind.
      const stat = await fs.stat(building).catch(() => undefined);
      if (stat && Date.now() - stat.mtimeMs > 120_000) await fs.rm(building, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    try {
      const config = loadConfig({ LATCHKEY_DATA_DIR: building, LATCHKEY_ENV: 'test' });
      const db = await openDatabase(config, { lockHolder: 'test-template' });
      await migrateLatest(db);
      await db.close();
      await fs.writeFile(path.join(building, 'READY'), '');
      await fs.rm(template, { recursive: true, force: true });
      await fs.rename(building, template);
    } catch (error) {
      await fs.rm(building, { recursive: true, force: true });
      throw error;
    }
  }
}

async function createEmbeddedDataDir(): Promise<TestDatabase> {
  const template = await migratedTemplate();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-test-'));
  await fs.cp(path.join(template, 'pgdata'), path.join(dataDir, 'pgdata'), { recursive: true });
  return {
    env: { LATCHKEY_DATA_DIR: dataDir, LATCHKEY_ENV: 'test' },
    drop: () => fs.rm(dataDir, { recursive: true, force: true }),
  };
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
