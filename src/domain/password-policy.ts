import { createRequire } from 'node:module';

/** NIST SP 800-63B §3.1.1.2: verifiers accept at least 64 characters; more only costs hashing time. */
export const MAX_PASSWORD_LENGTH = 256;

let common: Set<string> | undefined;

/**
 * zxcvbn-ts's list of ~49,000 passwords seen most often in breaches, lowercased once. Loaded on
 * the first password set, not at start: its dictionaries take memory a node serving tokens
 * never needs.
 */
function commonPasswords(): Set<string> {
  if (!common) {
    const { dictionary } = createRequire(import.meta.url)('@zxcvbn-ts/language-common') as { dictionary: Record<string, unknown> };
    common = new Set((dictionary['passwords-common'] as string[]).map((entry) => entry.toLowerCase()));
  }
  return common;
}

/** Words that make a password guessable for this account or this service in particular. */
function contextWords(email: string | undefined): string[] {
  const local = email?.split('@')[0]?.toLowerCase();
  return ['latchkey', ...(local && local.length >= 4 ? [local] : [])];
}

/**
 * What is wrong with a new password, or undefined. Length and blocklist only: no composition
 * rules, which push people to predictable patterns (NIST SP 800-63B §3.1.1.2).
 */
export function passwordProblem(password: string, options: { minLength: number; email?: string | undefined }): string | undefined {
  // Length in characters as people count them, not UTF-16 code units.
  const length = [...password].length;
  if (length < options.minLength) return `must be at least ${options.minLength} characters`;
  if (length > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters`;
  const lowered = password.toLowerCase();
  if (commonPasswords().has(lowered)) return 'is one of the most common passwords; choose another';
  if (contextWords(options.email).some((word) => lowered === word || (lowered.includes(word) && length - word.length < 4))) {
    return 'is too close to your email address or the name of this service';
  }
  return undefined;
}
