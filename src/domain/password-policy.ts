import { dictionary } from '@zxcvbn-ts/language-common';

/** NIST SP 800-63B §3.1.1.2: verifiers accept at least 64 characters; more only costs hashing time. */
export const MAX_PASSWORD_LENGTH = 256;

// zxcvbn-ts's list of ~49,000 passwords seen most often in breaches, lowercased once.
const common = new Set((dictionary['passwords-common'] as string[]).map((entry) => entry.toLowerCase()));

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
  if (common.has(lowered)) return 'is one of the most common passwords; choose another';
  if (contextWords(options.email).some((word) => lowered === word || (lowered.includes(word) && length - word.length < 4))) {
    return 'is too close to your email address or the name of this service';
  }
  return undefined;
}
