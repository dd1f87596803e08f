import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/**
 * Cryptographically random bytes for values needed on every request (CSP nonces). Each
 * randomBytes() call is a system call; this takes them from a pool refilled a page at a time,
 * as crypto.randomUUID() does. The result is a copy: the pool is overwritten on refill.
 */
export function pooledRandomBytes(size: number): Buffer {
  if (size > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} bytes at a time`);
  if (offset + size > POOL_BYTES) {
    pool = randomFillSync(pool);
    offset = 0;
  }
  const bytes = Buffer.from(pool.subarray(offset, offset + size));
  offset += size;
  return bytes;
}
