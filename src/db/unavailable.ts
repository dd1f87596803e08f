import { LatchkeyError } from '../errors.js';

/** What a 503 from a database outage tells clients to wait before they try again (Retry-After). */
export const RETRY_AFTER_SECONDS = 5;

// Socket errors: the database host refused, dropped or could not be reached.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

// SQLSTATEs of a server that is going away or cannot take a session: admin_shutdown,
// crash_shutdown, cannot_connect_now (starting up, in recovery) and too_many_connections.
// Class 08 (connection exception) is matched by its prefix.
const SERVER_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

// What pg and knex throw when a connection fails or a bounded wait runs out (they have no codes):
// pg's connect timeout ('timeout expired', 'Connection terminated due to connection timeout'),
// a socket closed under a query ('Connection terminated unexpectedly'), query_timeout, a client
// that already broke, a pool that is gone; and PGlite once it is closing.
const MESSAGE_PREFIXES = [
  'Connection terminated',
  'timeout expired',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Unable to acquire a connection',
  'PGlite is closing',
  'PGlite is closed',
];

/** The driver's own message: Knex puts the failed statement in front of it ("select ... - Query read timeout"). */
function driverMessage(message: string): string {
  const separator = message.lastIndexOf(' - ');
  return separator === -1 ? message : message.slice(separator + 3);
}

/** Why `error` says the database is unreachable (a code or the driver's message, never the statement), if it does. */
function reasonOf(error: object): string | undefined {
  const { code, name, message } = error as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SERVER_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return code;
  // acquireConnectionTimeout: no pooled connection came free, none could be opened in time.
  if (name === 'KnexTimeoutError') return 'timeout acquiring a connection';
  if (typeof message !== 'string') return undefined;
  const own = driverMessage(message);
  return MESSAGE_PREFIXES.some((prefix) => own.startsWith(prefix)) ? own : undefined;
}

/**
 * Why the database could not be reached or did not answer in time behind `error` (such as
 * "ECONNREFUSED" or "Query read timeout"), or undefined when `error` is something else, such as
 * a query the database refused. Looks through `cause` (errors wrapped on the way up, such as the
 * provider's temporarily_unavailable) and the attempts of an AggregateError (one per address).
 */
export function unavailableReason(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    // An answer already decided as the client's to fix (a 4xx) stays one, whatever it wraps.
    const { status } = current as { status?: unknown };
    if (typeof status === 'number' && status < 500) continue;
    const reason = reasonOf(current);
    if (reason !== undefined) return reason;
    pending.push((current as { cause?: unknown }).cause);
    if (current instanceof AggregateError) pending.push(...current.errors);
  }
  return undefined;
}

/** Whether `error` means the database could not be reached or did not answer in time: a 503, worth trying again. */
export function isDatabaseUnavailable(error: unknown): boolean {
  return unavailableReason(error) !== undefined;
}

/** The answer Latchkey's own routes give when the database does not answer: 503, try again shortly. */
export function databaseUnavailable(cause: unknown): LatchkeyError {
  return new LatchkeyError('db.unavailable', undefined, { cause, retryAfter: RETRY_AFTER_SECONDS });
}
