import type { z } from 'zod';
import { LatchkeyError, type ErrorDetails } from '../../errors.js';

/**
 * Checks a request part against its schema. Each bad field is named as sent; an unknown field
 * is refused by name, so a typo (`redirect_uri`) is not silently ignored.
 */
export function parseWire<S extends z.ZodType>(schema: S, input: unknown, part: 'body' | 'query' | 'path'): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details: ErrorDetails = {};
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) details[[...issue.path, key].join('.')] ??= 'is not a known field';
      continue;
    }
    const field = issue.path.join('.') || part;
    details[field] ??= issue.path.length === 0 && part === 'body' ? 'must be a JSON object' : issue.message;
  }
  const summary = Object.entries(details)
    .map(([field, message]) => `${field}: ${message}`)
    .join('; ');
  throw new LatchkeyError('input.invalid', summary, { details });
}
