import type { z } from 'zod';
import { LatchkeyError, type ErrorDetails } from '../errors.js';

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
