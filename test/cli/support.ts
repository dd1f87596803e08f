import type { ExecutionContext } from 'ava';
import { lines, runCli, type CliResult } from '../helpers/processes.js';
import { basic } from '../helpers/rp.js';
import type { TestServer } from '../helpers/server.js';

export interface Page<T = Record<string, unknown>> {
  items: T[];
  next_cursor: string | null;
}

/** The one JSON document a successful --json command prints: the whole of stdout parses. */
export function json<T = Record<string, unknown>>(t: ExecutionContext, result: CliResult): T {
  t.is(result.code, 0, `exit ${result.code}; stderr: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** A failure as the CLI promises it: non-zero, nothing on stdout, exactly one error line, no stack. */
export function assertOneLineError(t: ExecutionContext, result: CliResult, mentions: string): string {
  t.not(result.code, 0);
  t.is(result.stdout, '');
  const [first, ...rest] = lines(result.stderr);
  t.truthy(first?.startsWith('error: '), result.stderr);
  t.true(first!.includes(mentions), `"${first}" should name ${mentions}`);
  t.deepEqual(rest, []);
  t.false(/^\s{4}at /m.test(result.stdout + result.stderr), 'no stack trace');
  return first!;
}

/**
 * The CLI as a separate process on a running test server's data: through its control socket on
 * the embedded engine, straight to the database (and so through the change feed) on PostgreSQL.
 */
export function cliFor(server: TestServer) {
  return (args: string[], options: { input?: string } = {}) => runCli(args, server.database.env, options);
}

/** Polls until `check` holds, for changes that reach a server through cache invalidation. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}


/** A client_credentials request at the token endpoint; the status tells whether the secret works. */
export async function clientCredentials(server: TestServer, clientId: string, clientSecret: string): Promise<number> {
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId, clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
  });
  await response.body?.cancel();
  return response.status;
}
