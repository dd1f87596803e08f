import { LatchkeyError } from '../errors.js';
import { ConfigError } from '../config.js';

/**
 * The CLI's only way to write: data to stdout, messages and errors to stderr. `note` is for
 * people (such as "this secret is shown once"), so --json leaves it out and stdout stays one document.
 */
export function printResult(result: unknown, options: { json: boolean; human: (result: never) => string; note?: string }): void {
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    process.stdout.write(`${options.human(result as never)}\n`);
    if (options.note) process.stderr.write(`${options.note}\n`);
  }
}

export interface PageJson<T> {
  items: T[];
  next_cursor: string | null;
}

/** A page as a table, ending with how to ask for the next one. */
export function pageTable<T>(columns: string[], row: (item: T) => Record<string, unknown> = (item) => item as Record<string, unknown>) {
  return (page: PageJson<T>): string => {
    const rows = table(page.items.map(row), columns);
    return page.next_cursor ? `${rows}\n(more: --cursor ${page.next_cursor})` : rows;
  };
}

export class UsageError extends Error {
  override name = 'UsageError';
}

// Domain field names as the flags that set them, so a message points at what to retype.
const flags: Record<string, string> = {
  grantTypes: '--grant',
  redirectUris: '--redirect-uri',
  postLogoutRedirectUris: '--post-logout-redirect-uri',
  resources: '--resource',
  corsOrigins: '--cors-origin',
  scopes: '--scope',
  accessTokenFormat: '--format',
  introspectionClientId: '--introspection-client',
  isAdmin: '--admin',
  graceSeconds: '--grace',
  actorId: '--actor',
  subjectId: '--subject',
  eventTypes: '--events',
  clientId: '--client',
  requirePushedAuthorizationRequests: '--require-par',
  dpopBoundAccessTokens: '--dpop-bound',
  refreshTokenReuseGrace: '--refresh-reuse-grace',
};

function flagFor(field: string): string {
  const [head] = field.split('.');
  return flags[head!] ?? `--${head!.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** One line on stderr, never a stack; returns the exit code. */
export function reportError(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`error: ${error.message} (see "latchkey help")\n`);
    return 2;
  }
  if (error instanceof LatchkeyError && error.details) {
    const problems = Object.entries(error.details).map(([field, problem]) => `${flagFor(field)} ${problem}`);
    process.stderr.write(`error: ${problems.join('; ')}\n`);
    return 1;
  }
  if (error instanceof LatchkeyError || error instanceof ConfigError) {
    process.stderr.write(`error: ${error.message}\n`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`error: ${message.split('\n')[0]}\n`);
  return 1;
}

/** Rows of [label, value] pairs as aligned text. */
export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((column) => formatCell(row[column])));
  const widths = columns.map((column, index) => Math.max(column.length, ...cells.map((line) => line[index]!.length)));
  const render = (line: string[]) => line.map((cell, index) => cell.padEnd(widths[index]!)).join('  ').trimEnd();
  return [render(columns), ...cells.map(render)].join('\n');
}

export function fields(record: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(record).map((key) => key.length));
  return Object.entries(record)
    .map(([key, value]) => `${key.padEnd(width)}  ${formatCell(value)}`)
    .join('\n');
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.length ? value.map((entry) => (typeof entry === 'object' ? JSON.stringify(entry) : String(entry))).join(', ') : '-';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
