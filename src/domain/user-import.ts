import type { Knex } from 'knex';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { insertUserUnlessTaken } from '../store/users.js';
import { recordAudit, type Actor } from './audit.js';
import { emitEvents } from './events/emit.js';
import { userData, type EventData } from './events/catalog.js';
import { hashScheme, isSupportedHash, type HashScheme } from './passwords.js';
import { emailAddress } from './users.js';
import { displayName } from './validation.js';

/** An Auth0 bulk-import file (a JSON array), or our JSON lines (one user object per line). */
export type ImportSource = 'auth0' | 'jsonl';

/** The largest file the importer reads at once. */
export const MAX_IMPORT_BYTES = 50 * 1024 * 1024;

export interface ImportResult {
  source: ImportSource;
  imported: number;
  /** `line` is the 1-based line of a JSON-lines file, or the 0-based index in an Auth0 array (as jq's `.[N]`). */
  skipped: Array<{ line: number; email: string | null; reason: string }>;
}

export interface ImportOptions {
  /** Set by the caller that knows (a request's content type); otherwise read from the content. */
  format?: ImportSource | undefined;
  /** Lines (or array items) before this content, when it is one piece of a larger file. */
  offset?: number | undefined;
}

interface ImportRecord {
  line: number;
  value: unknown;
}

interface NewUser {
  email: string;
  name: string | null;
  emailVerified: boolean;
  passwordHash: string | null;
  disabled: boolean;
}

// Each batch commits on its own: a large file makes progress without one huge transaction.
const BATCH_SIZE = 500;

const NOT_JSON = Symbol('not JSON');

const bool = z.boolean({ message: 'must be true or false' });
const text = z.string({ message: 'must be a string' });
const record = { error: 'must be a JSON object' };
const UNSUPPORTED_HASH = 'is not a supported password hash (argon2, bcrypt $2a$/$2b$/$2y$, or PBKDF2 with SHA-256 or SHA-512)';

const jsonLineUser = z
  .object(
    {
      email: emailAddress,
      name: displayName(200).nullish(),
      email_verified: bool.default(false),
      disabled: bool.default(false),
      // Left out (or null), the user is imported without a password and signs in after a reset.
      password_hash: text.refine(isSupportedHash, { message: UNSUPPORTED_HASH }).nullish(),
    },
    record,
  )
  // Strict, so a misspelt field (or a plain "password") is reported rather than silently dropped.
  .strict()
  .transform((user): NewUser => ({
    email: user.email,
    name: user.name ?? null,
    emailVerified: user.email_verified,
    passwordHash: user.password_hash ?? null,
    disabled: user.disabled,
  }));

// Auth0's algorithms whose hash.value is a string we verify as it is (PHC or modular crypt).
const AUTH0_ALGORITHMS: readonly HashScheme[] = ['argon2', 'bcrypt', 'pbkdf2'];

const auth0CustomHash = z.object(
  {
    algorithm: text,
    hash: z.object({ value: text, encoding: text.optional() }, record),
    salt: z.unknown().optional(),
    password: z.object({ encoding: text.optional() }, record).optional(),
  },
  record,
);

/** Auth0's documented user schema; the fields Latchkey has no use for (user_id, metadata, ...) are ignored. */
const auth0User = z
  .object(
    {
      email: emailAddress,
      email_verified: bool.default(false),
      name: text.optional(),
      given_name: text.optional(),
      family_name: text.optional(),
      blocked: bool.default(false),
      password_hash: text.optional(),
      custom_password_hash: auth0CustomHash.optional(),
    },
    record,
  )
  .transform((user, ctx): NewUser => {
    const fullName = user.name ?? ([user.given_name, user.family_name].filter(Boolean).join(' ') || undefined);
    const name = fullName === undefined ? undefined : displayName(200).safeParse(fullName);
    if (name && !name.success) ctx.addIssue({ code: 'custom', path: ['name'], message: name.error.issues[0]!.message });
    return {
      email: user.email,
      name: name?.data ?? null,
      emailVerified: user.email_verified,
      passwordHash: auth0Hash(user, ctx),
      disabled: user.blocked,
    };
  });

function auth0Hash(user: { password_hash?: string | undefined; custom_password_hash?: z.output<typeof auth0CustomHash> | undefined }, ctx: z.RefinementCtx): string | null {
  const problem = (path: string[], message: string) => {
    ctx.addIssue({ code: 'custom', path, message });
    return null;
  };
  const custom = user.custom_password_hash;
  if (user.password_hash !== undefined && custom) return problem(['custom_password_hash'], 'cannot be given with password_hash');
  if (user.password_hash !== undefined) {
    return hashScheme(user.password_hash) === 'bcrypt' ? user.password_hash : problem(['password_hash'], 'must be a bcrypt hash ($2a$ or $2b$)');
  }
  if (!custom) return null;
  const algorithm = custom.algorithm as HashScheme;
  if (!AUTH0_ALGORITHMS.includes(algorithm)) {
    return problem(['custom_password_hash', 'algorithm'], `${custom.algorithm} is not supported (${AUTH0_ALGORITHMS.join(', ')} are)`);
  }
  // For these algorithms the value carries its own salt and parameters, as text.
  if (custom.hash.encoding !== undefined && custom.hash.encoding !== 'utf8') return problem(['custom_password_hash', 'hash', 'encoding'], `must be utf8 for ${algorithm}`);
  if (custom.salt !== undefined) return problem(['custom_password_hash', 'salt'], `is not used with ${algorithm}: the salt is part of hash.value`);
  if (custom.password?.encoding !== undefined && custom.password.encoding !== 'utf8') return problem(['custom_password_hash', 'password', 'encoding'], 'only utf8 is supported');
  if (hashScheme(custom.hash.value) !== algorithm) return problem(['custom_password_hash', 'hash', 'value'], `is not a supported ${algorithm} hash`);
  return custom.hash.value;
}

/** "field: problem; field: problem", naming fields as they are in the file. */
function describe(error: z.ZodError): string {
  const problems = new Map<string, string>();
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.set([...issue.path, key].join('.'), 'is not a known field');
      continue;
    }
    const field = issue.path.join('.') || 'record';
    if (!problems.has(field)) problems.set(field, issue.message);
  }
  return [...problems].map(([field, message]) => `${field}: ${message}`).join('; ');
}

function emailOf(value: unknown): string | null {
  const email = value && typeof value === 'object' ? (value as { email?: unknown }).email : undefined;
  return typeof email === 'string' ? email.trim().slice(0, 254) : null;
}

const NOT_A_USER_FILE = 'the file is neither a JSON array of users (Auth0 bulk import) nor JSON lines (one user object per line)';

function auth0Records(text: string, offset: number): ImportRecord[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new LatchkeyError('input.invalid', `the file is not a valid JSON array (${(error as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new LatchkeyError('input.invalid', 'an Auth0 bulk-import file is a JSON array of users');
  return parsed.map((value: unknown, index) => ({ line: offset + index, value }));
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    // Reported with its line; the other lines are still imported.
    return NOT_JSON;
  }
}

// A line that starts like a user object is a record, even if a broken one.
function startsRecord(line: string): boolean {
  return line.trimStart().startsWith('{');
}

/** A file whose first line does not even start like a user object is some other kind of file. */
function jsonLineRecords(text: string, offset: number): ImportRecord[] {
  const lines = text.split('\n');
  if (!startsRecord(lines.find((line) => line.trim() !== '') ?? '')) throw new LatchkeyError('input.invalid', NOT_A_USER_FILE);
  const records: ImportRecord[] = [];
  lines.forEach((line, index) => {
    if (line.trim() !== '') records.push({ line: offset + index + 1, value: parseLine(line) });
  });
  return records;
}

function sourceOf(text: string, format: ImportSource | undefined): ImportSource {
  return format ?? (text.trimStart().startsWith('[') ? 'auth0' : 'jsonl');
}

function readImportFile(content: string, options: ImportOptions): { source: ImportSource; records: ImportRecord[] } {
  if (Buffer.byteLength(content) > MAX_IMPORT_BYTES) {
    throw new LatchkeyError('input.too_large', `the file is larger than ${MAX_IMPORT_BYTES / 1024 / 1024} MB; split it and import each part`);
  }
  const text = content.replace(/^\uFEFF/, '');
  if (text.trim() === '') throw new LatchkeyError('input.invalid', 'the file holds no users');
  const source = sourceOf(text, options.format);
  const offset = options.offset ?? 0;
  return { source, records: source === 'auth0' ? auth0Records(text, offset) : jsonLineRecords(text, offset) };
}

function checkRecord(source: ImportSource, value: unknown): { user: NewUser } | { problem: string } {
  if (value === NOT_JSON) return { problem: 'is not valid JSON' };
  const parsed = (source === 'auth0' ? auth0User : jsonLineUser).safeParse(value);
  return parsed.success ? { user: parsed.data } : { problem: describe(parsed.error) };
}

async function insertBatch(trx: Knex, actor: Actor, source: ImportSource, batch: Array<{ line: number; user: NewUser }>) {
  const created: Array<EventData<'user.created'>> = [];
  const taken: ImportResult['skipped'] = [];
  for (const { line, user } of batch) {
    const row = await insertUserUnlessTaken(trx, { ...user, createdVia: 'import' });
    if (!row) {
      // An existing account is never overwritten: it may already have a password of its own.
      taken.push({ line, email: user.email, reason: 'a user with this email already exists' });
      continue;
    }
    await recordAudit(trx, actor, { type: 'user.imported', subject: { type: 'user', id: row.id }, details: { source } });
    created.push({ user: userData(row), created_via: 'import' as const });
  }
  await emitEvents(trx, 'user.created', created);
  return { imported: created.length, taken };
}

/**
 * Imports users with the password hashes of another identity provider, as they are: each is
 * verified as it is at the user's first sign-in and then replaced by an argon2id hash. A bad
 * record or a taken email is skipped and reported; the rest are imported.
 */
export async function importUsers(deps: Deps, actor: Actor, content: string, options: ImportOptions = {}): Promise<ImportResult> {
  const { source, records } = readImportFile(content, options);
  const skipped: ImportResult['skipped'] = [];
  const valid: Array<{ line: number; user: NewUser }> = [];
  for (const { line, value } of records) {
    const checked = checkRecord(source, value);
    if ('problem' in checked) skipped.push({ line, email: emailOf(value), reason: checked.problem });
    else valid.push({ line, user: checked.user });
  }
  let imported = 0;
  for (let start = 0; start < valid.length; start += BATCH_SIZE) {
    const batch = await deps.db.knex.transaction((trx) => insertBatch(trx, actor, source, valid.slice(start, start + BATCH_SIZE)));
    imported += batch.imported;
    skipped.push(...batch.taken);
  }
  skipped.sort((a, b) => a.line - b.line);
  return { source, imported, skipped };
}

/**
 * The same file as pieces that each import on their own, with their offset, and report what the
 * whole file would: a JSON-lines piece starts at a line that starts a record. None is much larger than
 * `maxBytes` once JSON-encoded, for a transport that limits the size of one request.
 */
export function splitImport(content: string, maxBytes: number): Array<{ content: string; format: ImportSource; offset: number }> {
  const text = content.replace(/^\uFEFF/, '');
  const format = sourceOf(text, undefined);
  const parts = format === 'auth0' ? auth0Records(text, 0).map((entry) => JSON.stringify(entry.value)) : text.split('\n');
  const pieces: Array<{ content: string; format: ImportSource; offset: number }> = [];
  let start = 0;
  let size = 0;
  parts.forEach((part, index) => {
    const bytes = Buffer.byteLength(JSON.stringify(part));
    if (size + bytes > maxBytes && index > start && (format === 'auth0' || startsRecord(part))) {
      pieces.push(piece(parts.slice(start, index), format, start));
      start = index;
      size = 0;
    }
    size += bytes;
  });
  // Always at least one piece, so an empty array still answers as the whole file would.
  pieces.push(piece(parts.slice(start), format, start));
  return pieces;
}

function piece(parts: string[], format: ImportSource, offset: number) {
  return { content: format === 'auth0' ? `[${parts.join(',')}]` : parts.join('\n'), format, offset };
}
