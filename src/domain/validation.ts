import { z } from 'zod';
import { LatchkeyError, type ErrorDetails } from '../errors.js';

/** A name people read: trimmed, not empty, no control characters (PostgreSQL text cannot hold NUL). */
export function displayName(max: number) {
  return z
    .string({ message: 'is required' })
    .trim()
    .min(1, { message: 'is required' })
    .max(max, { message: 'is too long' })
    .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), { message: 'must not contain control characters' });
}

/** Parses input with a zod schema; failures become `input.invalid` naming each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details: ErrorDetails = {};
  for (const issue of result.error.issues) {
    const field = issue.path.join('.') || 'input';
    details[field] ??= issue.message;
  }
  const summary = Object.entries(details)
    .map(([field, message]) => `${field}: ${message}`)
    .join('; ');
  throw new LatchkeyError('input.invalid', summary, { details });
}
