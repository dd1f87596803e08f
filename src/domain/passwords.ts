import argon2, { type HashOptions } from 'argon2';
import type { Config } from '../config.js';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Costs what a real verify costs, so an unknown email cannot be told apart by timing. */
  verifyDummy(password: string): Promise<void>;
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
      try {
        return await argon2.verify(hash, password);
      } catch {
        // A malformed stored hash verifies nothing.
        return false;
      }
    },
    async verifyDummy(password) {
      await hasher.verify(await dummy, password);
    },
  };
  return hasher;
}
