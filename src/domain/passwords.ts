import { pbkdf2 as pbkdf2Callback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import argon2, { type HashOptions } from 'argon2';
import bcrypt from 'bcryptjs';
import type { Config } from '../config.js';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Our argon2id hashes and the imported formats isSupportedHash accepts; anything else verifies nothing. */
  verify(hash: string, password: string): Promise<boolean>;
  /** Costs what a real verify costs, so an unknown email cannot be told apart by timing. */
  verifyDummy(password: string): Promise<void>;
  /** True unless the hash is argon2id with exactly the configured parameters. */
  needsRehash(hash: string): boolean;
}

const pbkdf2 = promisify(pbkdf2Callback);

// An imported hash is input: past these bounds, one entry would hold a CPU core (or gigabytes)
// at every sign-in attempt against it, so it is refused instead of computed. The argon2 bounds
// are those the configuration accepts for our own hashes.
const LIMITS = {
  pbkdf2Iterations: 10_000_000,
  keyBytes: 256,
  bcryptCost: 16,
  argon2MemoryKib: 4 * 1024 * 1024,
  argon2Time: 100,
  argon2Parallelism: 64,
};

type ParsedHash =
  | { scheme: 'argon2'; type: string; version: number; memoryKib: number; time: number; parallelism: number }
  | { scheme: 'bcrypt' }
  | { scheme: 'pbkdf2'; digest: 'sha256' | 'sha512'; iterations: number; salt: Buffer; key: Buffer };

export type HashScheme = ParsedHash['scheme'];

/** Standard base64 without padding (PHC "B64"); passlib's "ab64" writes '.' for '+'. */
function decodeBase64(text: string, alphabet: 'b64' | 'ab64'): Buffer | undefined {
  const pattern = alphabet === 'b64' ? /^[A-Za-z0-9+/]+$/ : /^[A-Za-z0-9./]+$/;
  // A length of 4n+1 is not base64; Node would quietly drop the last character.
  if (!pattern.test(text) || text.length % 4 === 1) return undefined;
  return Buffer.from(alphabet === 'ab64' ? text.replaceAll('.', '+') : text, 'base64');
}

function within(value: number, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= min && value <= max;
}

/** `i=1000,l=32` -> { i: 1000, l: 32 }; undefined for a repeated, unknown or non-numeric parameter. */
function phcParameters(text: string, allowed: string[]): Record<string, number> | undefined {
  const parameters: Record<string, number> = {};
  for (const pair of text.split(',')) {
    const match = /^([a-z]+)=(\d{1,10})$/.exec(pair);
    if (!match || !allowed.includes(match[1]!) || match[1]! in parameters) return undefined;
    parameters[match[1]!] = Number(match[2]);
  }
  return parameters;
}

function parseArgon2(value: string): ParsedHash | undefined {
  const match = /^\$(argon2id|argon2i|argon2d)\$(?:v=(16|19)\$)?([^$]+)\$([^$]+)\$([^$]+)$/.exec(value);
  if (!match) return undefined;
  const parameters = phcParameters(match[3]!, ['m', 't', 'p']);
  const salt = decodeBase64(match[4]!, 'b64');
  const key = decodeBase64(match[5]!, 'b64');
  if (!parameters || !salt || !key) return undefined;
  const { m = 0, t = 0, p = 0 } = parameters;
  // The minimums are Argon2's own (RFC 9106 §3.1): below them the library refuses to compute.
  const sane =
    within(p, 1, LIMITS.argon2Parallelism) &&
    within(m, 8 * p, LIMITS.argon2MemoryKib) &&
    within(t, 1, LIMITS.argon2Time) &&
    salt.length >= 8 &&
    within(key.length, 4, LIMITS.keyBytes);
  if (!sane) return undefined;
  return { scheme: 'argon2', type: match[1]!, version: Number(match[2] ?? 16), memoryKib: m, time: t, parallelism: p };
}

function parseBcrypt(value: string): ParsedHash | undefined {
  const match = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/.exec(value);
  return match && within(Number(match[1]), 4, LIMITS.bcryptCost) ? { scheme: 'bcrypt' } : undefined;
}

/** PHC `$pbkdf2-sha256$i=<iterations>,l=<bytes>$<salt>$<key>` or passlib `$pbkdf2-sha256$<iterations>$<salt>$<key>`. */
function parsePbkdf2(value: string): ParsedHash | undefined {
  const match = /^\$pbkdf2-(sha256|sha512)\$([^$]+)\$([^$]+)\$([^$]+)$/.exec(value);
  if (!match) return undefined;
  const passlib = /^\d{1,10}$/.test(match[2]!);
  const parameters = passlib ? { i: Number(match[2]) } : phcParameters(match[2]!, ['i', 'l']);
  const alphabet = passlib ? 'ab64' : 'b64';
  const salt = decodeBase64(match[3]!, alphabet);
  const key = decodeBase64(match[4]!, alphabet);
  if (!parameters?.i || !salt || !key) return undefined;
  const sane = within(parameters.i, 1, LIMITS.pbkdf2Iterations) && within(key.length, 1, LIMITS.keyBytes) && (parameters.l === undefined || parameters.l === key.length);
  return sane ? { scheme: 'pbkdf2', digest: match[1] as 'sha256' | 'sha512', iterations: parameters.i, salt, key } : undefined;
}

function parseHash(value: string): ParsedHash | undefined {
  if (value.startsWith('$argon2')) return parseArgon2(value);
  if (value.startsWith('$2')) return parseBcrypt(value);
  if (value.startsWith('$pbkdf2-')) return parsePbkdf2(value);
  return undefined;
}

/** Which family a well-formed hash with sane parameters belongs to, or undefined for anything we cannot verify. */
export function hashScheme(value: string): HashScheme | undefined {
  return parseHash(value)?.scheme;
}

export function isSupportedHash(value: string): boolean {
  return hashScheme(value) !== undefined;
}

export function createPasswordHasher(settings: Config['argon2']): PasswordHasher {
  const options: HashOptions = {
    type: argon2.argon2id,
    memoryCost: settings.memoryKib,
    timeCost: settings.time,
    parallelism: settings.parallelism,
  };
  // Made up front, so the first unknown-email sign-in costs one verify like every other.
  const dummy = argon2.hash('latchkey-dummy-password', options);
  dummy.catch(() => {});
  const hasher: PasswordHasher = {
    hash: (password) => argon2.hash(password, options),
    async verify(hash, password) {
      const parsed = parseHash(hash);
      if (!parsed) return false;
      try {
        switch (parsed.scheme) {
          case 'argon2':
            return await argon2.verify(hash, password);
          case 'bcrypt':
            return await bcrypt.compare(password, hash);
          case 'pbkdf2': {
            const derived = await pbkdf2(password, parsed.salt, parsed.iterations, parsed.key.length, parsed.digest);
            return timingSafeEqual(derived, parsed.key);
          }
        }
      } catch {
        // A malformed stored hash verifies nothing.
        return false;
      }
    },
    async verifyDummy(password) {
      await hasher.verify(await dummy, password);
    },
    needsRehash(hash) {
      const parsed = parseHash(hash);
      return !(
        parsed?.scheme === 'argon2' &&
        parsed.type === 'argon2id' &&
        parsed.version === 19 &&
        parsed.memoryKib === settings.memoryKib &&
        parsed.time === settings.time &&
        parsed.parallelism === settings.parallelism
      );
    },
  };
  return hasher;
}
