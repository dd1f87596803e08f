import { createHash, timingSafeEqual } from 'node:crypto';

/** SHA-256 as base64url: how Latchkey stores ids and secrets that must not be readable from a dump. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** Compares a presented secret with a stored SHA-256 digest in constant time. */
export function matchesDigest(presented: string, digest: string): boolean {
  const actual = Buffer.from(sha256(presented));
  const expected = Buffer.from(digest);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
