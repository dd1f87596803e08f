/**
 * The ceiling for logins: how many password verifications a second this machine does at the
 * configured argon2id parameters, with as many in flight as the server's libuv thread pool
 * runs at once (they run there, off the event loop). Started by run.ts with the server's
 * environment; prints one JSON line.
 */
import { configFromProcess } from '../src/config.js';
import { createPasswordHasher } from '../src/domain/passwords.js';

const seconds = Number(process.argv[2] ?? '5');
// libuv's own default; the server runs with the same environment, so the same pool.
const poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? '4');

const config = configFromProcess();
const hasher = createPasswordHasher(config.argon2);
const password = 'correct horse battery staple';
const hash = await hasher.hash(password);
await hasher.verify(hash, password);

let verified = 0;
const cpuBefore = process.cpuUsage();
const started = performance.now();
const deadline = started + seconds * 1000;
await Promise.all(
  Array.from({ length: poolSize }, async () => {
    while (performance.now() < deadline) {
      if (!(await hasher.verify(hash, password))) throw new Error('argon2id verify failed');
      verified += 1;
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuMsPerVerification = (cpu.user + cpu.system) / 1000 / verified;
process.stdout.write(`${JSON.stringify({ perSecond: verified / elapsed, cpuMsPerVerification, poolSize })}\n`);
