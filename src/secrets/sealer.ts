import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from '../config.js';

/**
 * Encrypts secrets kept in the database (private signing keys, cookie secrets, and later TOTP
 * seeds, webhook and upstream client secrets) with AES-256-GCM under a key derived from the
 * master secret. Each value is bound to what it is (`context`, as additional data), so a sealed
 * value copied onto another row does not open there.
 */
export interface Sealer {
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
  /**
   * A 32-byte secret for `purpose`, the same on every node sharing the master key and across
   * restarts, for what must be derived rather than stored (DPoP nonces).
   */
  derive(purpose: string): Buffer;
}

export class SealError extends Error {
  override name = 'SealError';
}

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

function derive(secret: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'latchkey', info, 32));
}

export function createSealer(masterSecret: string): Sealer {
  const key = derive(masterSecret, 'latchkey seal v1');
  // Names the master key without revealing it, so a value sealed under another one gets a clear error.
  const keyId = derive(masterSecret, 'latchkey seal key id v1').subarray(0, 6).toString('base64url');
  return {
    derive: (purpose) => derive(masterSecret, `latchkey derived v1 ${purpose}`),
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, keyId, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
    },
    open(sealed, context) {
      const parts = sealed.split('.');
      const [version, sealedKeyId, iv, ciphertext, tag] = parts;
      // Exact lengths: GCM would accept a shorter tag, which makes forging a value far easier.
      if (
        parts.length !== 5 ||
        version !== VERSION ||
        !sealedKeyId ||
        iv === undefined ||
        ciphertext === undefined ||
        tag === undefined ||
        Buffer.from(iv, 'base64url').length !== IV_BYTES ||
        Buffer.from(tag, 'base64url').length !== TAG_BYTES
      ) {
        throw new SealError(`${context} is not a sealed value`);
      }
      if (sealedKeyId !== keyId) {
        throw new SealError(`${context} was encrypted with a different master key: LATCHKEY_SECRET must be the one this database was set up with`);
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
      } catch (error) {
        throw new SealError(`${context} could not be decrypted: it was altered or belongs to another record`, { cause: error });
      }
    },
  };
}

/** For a process that has no master key: anything that needs one says which setting is missing. */
export function missingSealer(): Sealer {
  const refuse = (): never => {
    throw new ConfigError('missing LATCHKEY_SECRET: reading or writing private keys needs the master key (LATCHKEY_SECRET or LATCHKEY_SECRET_FILE)');
  };
  return { seal: refuse, open: refuse, derive: refuse };
}
