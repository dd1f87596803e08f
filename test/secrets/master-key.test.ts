import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import test from 'ava';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { generatedKeyPath, loadSealer } from '../../src/secrets/master-key.js';
import { lines, runCli } from '../helpers/processes.js';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-master-key-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A logger whose lines the test reads. */
function capturingLogger() {
  const written: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of lines(chunk.toString('utf8'))) written.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ log: { level: 'info', pretty: false } }, destination), written };
}

test('the embedded database makes its own master key once (0600, with a warning) and reuses it', async (t) => {
  const dataDir = await tempDir(t);
  const config = loadConfig({ LATCHKEY_DATA_DIR: dataDir });
  const first = capturingLogger();
  const sealer = await loadSealer(config, first.log);

  const file = generatedKeyPath(dataDir);
  const stat = await fs.stat(file);
  t.is(stat.mode & 0o777, 0o600);
  t.true((await fs.readFile(file, 'utf8')).trim().length >= 32);
  const warning = first.written.find((line) => line.level === 40);
  t.truthy(warning, JSON.stringify(first.written));
  t.regex(String(warning!.msg), /generated a master key/);
  t.is(warning!.file, file);

  const second = capturingLogger();
  const again = await loadSealer(config, second.log);
  t.deepEqual(second.written, [], 'no second warning');
  t.is(again.open(sealer.seal('cookie secret', 'cookie_secret'), 'cookie_secret'), 'cookie secret', 'the same key is read back');
  t.is((await fs.stat(file)).mtimeMs, stat.mtimeMs, 'the key file is not rewritten');
});

test('LATCHKEY_SECRET_FILE is read, and a missing or short file is a clear error', async (t) => {
  const dir = await tempDir(t);
  const { log } = capturingLogger();
  const keyFile = path.join(dir, 'secret');
  const secret = 'file-master-key-0123456789abcdefghijklmnopqrstuvw';
  await fs.writeFile(keyFile, `${secret}\n`);

  const fromFile = await loadSealer(loadConfig({ LATCHKEY_SECRET_FILE: keyFile, DATABASE_URL: 'postgres://db.example/latchkey' }), log);
  const fromValue = await loadSealer(loadConfig({ LATCHKEY_SECRET: secret, DATABASE_URL: 'postgres://db.example/latchkey' }), log);
  t.is(fromValue.open(fromFile.seal('x', 'cookie_secret'), 'cookie_secret'), 'x', 'the file holds the same key as the variable, newline trimmed');

  const missing = path.join(dir, 'nowhere');
  await t.throwsAsync(loadSealer(loadConfig({ LATCHKEY_SECRET_FILE: missing }), log), {
    instanceOf: ConfigError,
    message: `invalid LATCHKEY_SECRET_FILE=${JSON.stringify(missing)}: no such file`,
  });
  const short = path.join(dir, 'short');
  await fs.writeFile(short, 'too-short\n');
  await t.throwsAsync(loadSealer(loadConfig({ LATCHKEY_SECRET_FILE: short }), log), {
    instanceOf: ConfigError,
    message: /LATCHKEY_SECRET_FILE=.*the file holds fewer than 32 characters/,
  });
  t.throws(() => loadConfig({ LATCHKEY_SECRET: 'short' }), { instanceOf: ConfigError, message: /LATCHKEY_SECRET.*at least 32 characters/ });
  t.throws(() => loadConfig({ LATCHKEY_SECRET: secret, LATCHKEY_SECRET_FILE: keyFile }), { instanceOf: ConfigError, message: /not both/ });
});

test('latchkey serve with DATABASE_URL and no master key refuses to start with one line naming LATCHKEY_SECRET', async (t) => {
  // The check comes before any connection, so the database need not exist.
  const result = await runCli(['serve'], { DATABASE_URL: 'postgres://latchkey@127.0.0.1:1/latchkey', LATCHKEY_SECRET: '', PORT: '1' });
  t.not(result.code, 0);
  const errors = lines(result.stderr);
  t.is(errors.length, 1, result.stderr);
  t.regex(errors[0]!, /^error: missing LATCHKEY_SECRET: .*every node must share one master key/);
  t.false(/^\s{4}at /m.test(result.stderr), 'no stack trace');
});
