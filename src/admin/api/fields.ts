import { LatchkeyError, type ErrorDetails } from '../../errors.js';

// The API speaks snake_case and the domain camelCase. Only top-level names are converted:
// values such as a JWK Set are passed on as they are.

/** Wire name -> domain name, for the names that are not simply the camelCase of the other. */
export type Renames = Readonly<Record<string, string>>;

const camelCase = (name: string) => name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
const snakeCase = (name: string) => name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

/** A request's fields under the domain's names, and the way back to the names the client sent. */
export interface DomainFields {
  values: Record<string, unknown>;
  wireName(domainName: string): string;
}

export function toDomainFields(input: Record<string, unknown>, renames: Renames = {}): DomainFields {
  const values: Record<string, unknown> = {};
  const sent = new Map<string, string>();
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const domainName = renames[key] ?? camelCase(key);
    values[domainName] = value;
    sent.set(domainName, key);
  }
  const fallback = new Map(Object.entries(renames).map(([wire, domain]) => [domain, wire]));
  return { values, wireName: (name) => sent.get(name) ?? fallback.get(name) ?? snakeCase(name) };
}

/** The same error, its details naming fields as the client sent them (`redirectUris.0` -> `redirect_uris.0`). */
export function withWireNames(error: LatchkeyError, wireName: (domainName: string) => string): LatchkeyError {
  if (!error.details) return error;
  const details: ErrorDetails = {};
  for (const [field, message] of Object.entries(error.details)) {
    const [head = field, ...rest] = field.split('.');
    details[[wireName(head), ...rest].join('.')] = message;
  }
  return new LatchkeyError(error.code, renameInMessage(error.message, error.details, details), { details, cause: error });
}

// A validation summary lists the fields ("redirectUris: must be ..."); rebuild it with the wire
// names. Any other message was written for people and is kept.
const summary = (details: ErrorDetails) =>
  Object.entries(details)
    .map(([field, message]) => `${field}: ${message}`)
    .join('; ');

function renameInMessage(message: string, before: ErrorDetails, after: ErrorDetails): string {
  return message === summary(before) ? summary(after) : message;
}
