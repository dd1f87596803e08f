import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError, type Config } from '../config.js';
import type { Logger } from '../log.js';
import { createSealer, missingSealer, type Sealer } from './sealer.js';

const MIN_LENGTH = 32;

/** Where the embedded database keeps the master key it made for itself. */
export function generatedKeyPath(dataDir: string): string {
  return path.join(dataDir, 'master.key');
}

async function readKeyFile(file: string, variable: string): Promise<string> {
  let content: string;
  try {
    content = (await fs.readFile(file, 'utf8')).trim();
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read';
    throw new ConfigError(`invalid ${variable}=${JSON.stringify(file)}: ${reason}`);
  }
  if (content.length < MIN_LENGTH) throw new ConfigError(`invalid ${variable}=${JSON.stringify(file)}: the file holds fewer than ${MIN_LENGTH} characters`);
  return content;
}

/**
 * The embedded database's own key, made on its first start. Only this machine's data dir
 * holds the database, so a key beside it protects backups and copies of the database files
 * taken without the key file, and keeps the same code path as production.
 */
async function embeddedKey(dataDir: string, log: Logger): Promise<string> {
  const file = generatedKeyPath(dataDir);
  const exists = await fs.access(file).then(
    () => true,
    () => false,
  );
  if (exists) return readKeyFile(file, 'the generated master key');
  const secret = randomBytes(32).toString('base64url');
  try {
    await fs.writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process made it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readKeyFile(file, 'the generated master key');
    throw error;
  }
  log.warn({ file }, 'generated a master key for the embedded database; keep it with the data dir, or set LATCHKEY_SECRET to its content');
  return secret;
}

/** The sealer for this process: from LATCHKEY_SECRET(_FILE), the embedded data dir's key, or none. */
export async function loadSealer(config: Pick<Config, 'secret' | 'db'>, log: Logger): Promise<Sealer> {
  if (config.secret.value) return createSealer(config.secret.value);
  if (config.secret.file) return createSealer(await readKeyFile(config.secret.file, 'LATCHKEY_SECRET_FILE'));
  if (!config.db.url) return createSealer(await embeddedKey(config.db.dataDir, log));
  return missingSealer();
}
