import { spawn } from 'node:child_process';
import test, { type ExecutionContext } from 'ava';
import { loadConfig } from '../../src/config.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { authenticate } from '../../src/domain/accounts.js';
import { createLogger } from '../../src/log.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { engine } from '../helpers/engines.js';
import { lines, processEnv, repoRoot, runCli, type CliResult } from '../helpers/processes.js';
import { testEnv } from '../helpers/server.js';
import { assertOneLineError, json, type Page } from './support.js';

// Separate databases, so the users, the clients and the error halves of the file run side by side.
let people: TestDatabase;
let apps: TestDatabase;
let rejects: TestDatabase;

test.before(async () => {
  [people, apps, rejects] = await Promise.all([createTestDatabase(), createTestDatabase(), createTestDatabase()]);
});

test.after.always(async () => {
  await Promise.all([people?.drop(), apps?.drop(), rejects?.drop()]);
});

// An embedded data dir admits one process at a time (a second CLI would be refused with
// "in use"), so commands on the same data dir take turns there; PostgreSQL takes them at once.
const queues = new Map<TestDatabase, Promise<unknown>>();
function exclusive<T>(database: TestDatabase, work: () => Promise<T>): Promise<T> {
  if (engine === 'postgres') return work();
  const next = (queues.get(database) ?? Promise.resolve()).then(work, work);
  queues.set(
    database,
    next.catch(() => undefined),
  );
  return next;
}

function cli(database: TestDatabase, args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return exclusive(database, () => runCli(args, { ...database.env, ...options.env }, options.input === undefined ? {} : { input: options.input }));
}

/**
 * For commands refused before any database is opened: they need not wait their turn. Should one
 * open the data dir after all, a clash would fail the test with an "in use" error, not pass it.
 */
function cliWithoutDatabase(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { ...rejects.env, ...env });
}

/** The domain, in this process, on the same data the CLI wrote. */
function withDeps<T>(database: TestDatabase, work: (deps: Deps) => Promise<T>): Promise<T> {
  return exclusive(database, async () => {
    const config = loadConfig({ ...testEnv, ...database.env });
    const deps = await createDeps(config, { log: createLogger(config), lockHolder: 'test' });
    try {
      return await work(deps);
    } finally {
      await deps.db.close();
    }
  });
}

let counter = 0;
function uniqueEmail(label: string): string {
  counter += 1;
  return `${label}-${counter}-${process.pid}@example.com`;
}

function assertNoSecretFields(t: ExecutionContext, record: Record<string, unknown>) {
  for (const key of Object.keys(record)) t.false(/password|hash/i.test(key), `field ${key} must not be printed`);
}

test('users create --json prints the new user as one JSON document, without the password or its hash', async (t) => {
  const email = uniqueEmail('alice');
  const password = 'correct-horse-battery';
  const result = await cli(people, ['users', 'create', '--email', email, '--name', 'Alice', '--password', password, '--json']);
  const user = json(t, result);
  t.is(typeof user.id, 'string');
  t.is(user.email, email);
  t.is(user.name, 'Alice');
  assertNoSecretFields(t, user);
  t.false(result.stdout.includes(password));
  t.false(result.stdout.includes('$argon2'));
  t.is(result.stderr, '');

  const listed = json<Page>(t, await cli(people, ['users', 'list', '--json'])).items;
  const entry = listed.find((row) => row.id === user.id);
  t.is(entry?.email, email);
  for (const row of listed) assertNoSecretFields(t, row);
});

test('creating a user with an email that is taken fails with one error line and prints nothing', async (t) => {
  const email = uniqueEmail('taken');
  json(t, await cli(people, ['users', 'create', '--email', email, '--password', 'first-password', '--json']));
  const again = await cli(people, ['users', 'create', '--email', email, '--password', 'second-password', '--json']);
  assertOneLineError(t, again, '--email');
  // The first account keeps its password.
  await withDeps(people, async (deps) => {
    await t.notThrowsAsync(authenticate(deps, { email, password: 'first-password' }));
    await t.throwsAsync(authenticate(deps, { email, password: 'second-password' }));
  });
});

test('without --password, users create reads the password from a piped stdin and the user can sign in with it', async (t) => {
  const email = uniqueEmail('piped');
  const result = await cli(people, ['users', 'create', '--email', email, '--json'], { input: 'secret-password\n' });
  const user = json(t, result);
  t.is(user.email, email);
  await withDeps(people, async (deps) => {
    const signedIn = await authenticate(deps, { email, password: 'secret-password' });
    t.is(signedIn.id, user.id as string);
    // The line ending is not part of the password.
    await t.throwsAsync(authenticate(deps, { email, password: 'secret-password\n' }));
  });
});

test('on a terminal the password prompt does not echo what is typed', async (t) => {
  const email = uniqueEmail('typed');
  const typed = 'typed-terminal-secret';
  // `script` gives the CLI a real pseudo-terminal; the test types into it once the prompt shows.
  const output = await exclusive(people, () => {
    const child = spawn('script', ['-qec', `node bin/latchkey.js users create --email ${email} --json`, '/dev/null'], {
      cwd: repoRoot,
      env: processEnv(people.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let text = '';
    let typedIn = false;
    const collect = (chunk: string) => {
      text += chunk;
      if (!typedIn && text.includes(`Password for ${email}:`)) {
        typedIn = true;
        child.stdin.write(`${typed}\r`);
      }
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    return new Promise<{ text: string; code: number | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve({ text, code }));
    });
  });
  t.is(output.code, 0, output.text);
  t.true(output.text.includes(`Password for ${email}:`));
  t.false(output.text.includes(typed), `the typed password must not appear on the terminal: ${JSON.stringify(output.text)}`);
  const user = JSON.parse(output.text.slice(output.text.indexOf('{'))) as Record<string, unknown>;
  t.is(user.email, email);
  await withDeps(people, async (deps) => {
    t.is((await authenticate(deps, { email, password: typed })).id, user.id as string);
  });
});

test('clients create prints the client id and, once, its secret; the default grants are code and refresh', async (t) => {
  const created = json(
    t,
    await cli(apps, [
      'clients',
      'create',
      '--name',
      'Web App',
      '--redirect-uri',
      'https://app.example/callback',
      '--post-logout-redirect-uri',
      'https://app.example/signed-out',
      '--json',
    ]),
  );
  t.is(typeof created.client_id, 'string');
  t.is(typeof created.client_secret, 'string');
  t.true((created.client_secret as string).length >= 32);
  t.deepEqual(created.grant_types, ['authorization_code', 'refresh_token']);
  t.deepEqual(created.redirect_uris, ['https://app.example/callback']);
  t.deepEqual(created.post_logout_redirect_uris, ['https://app.example/signed-out']);
  t.is(created.token_endpoint_auth_method, 'client_secret_basic');

  const listed = json<Page>(t, await cli(apps, ['clients', 'list', '--json'])).items;
  const entry = listed.find((row) => row.client_id === created.client_id);
  t.is(entry?.client_name, 'Web App');
  for (const row of listed) t.false('client_secret' in row, 'a listing never shows a secret');
});

test('clients create --public has no secret and authenticates with none', async (t) => {
  const created = json(t, await cli(apps, ['clients', 'create', '--name', 'SPA', '--public', '--redirect-uri', 'https://spa.example/cb', '--json']));
  t.is(typeof created.client_id, 'string');
  t.false('client_secret' in created);
  t.is(created.token_endpoint_auth_method, 'none');
  t.deepEqual(created.grant_types, ['authorization_code', 'refresh_token']);
});

test('a client_credentials client with a new --resource registers that API with JWT access tokens', async (t) => {
  const created = json(
    t,
    await cli(apps, ['clients', 'create', '--name', 'Worker', '--grant', 'client_credentials', '--resource', 'https://api.example', '--scope', 'api:read', '--json']),
  );
  t.is(typeof created.client_secret, 'string');
  t.deepEqual(created.grant_types, ['client_credentials']);
  t.deepEqual(created.resources, [{ identifier: 'https://api.example', scope: 'api:read' }]);

  const resources = json<Page>(t, await cli(apps, ['resources', 'list', '--json'])).items;
  const api = resources.find((row) => row.identifier === 'https://api.example');
  t.is(api?.access_token_format, 'jwt');
  t.is(api?.scope, 'api:read');
});

test('a public client cannot have the client_credentials grant', async (t) => {
  const result = await cli(apps, ['clients', 'create', '--name', 'Bad', '--public', '--grant', 'client_credentials', '--json']);
  assertOneLineError(t, result, '--grant');
});

test('clients delete removes the client from the list', async (t) => {
  const created = json(t, await cli(apps, ['clients', 'create', '--name', 'Doomed', '--redirect-uri', 'https://doomed.example/cb', '--json']));
  const deleted = await cli(apps, ['clients', 'delete', created.client_id as string]);
  t.is(deleted.code, 0, deleted.stderr);
  const listed = json<Page>(t, await cli(apps, ['clients', 'list', '--json'])).items;
  t.false(listed.some((row) => row.client_id === created.client_id));
});

test('resources create registers an API with opaque tokens and its introspection client', async (t) => {
  const introspector = json(
    t,
    await cli(apps, ['clients', 'create', '--name', 'Reports API', '--redirect-uri', 'https://reports.example/cb', '--json']),
  ).client_id as string;
  const resource = json(
    t,
    await cli(apps, [
      'resources',
      'create',
      '--identifier',
      'https://reports.example',
      '--scope',
      'a b',
      '--format',
      'opaque',
      '--introspection-client',
      introspector,
      '--access-token-ttl',
      '5m',
      '--json',
    ]),
  );
  t.is(resource.identifier, 'https://reports.example');
  t.is(resource.scope, 'a b');
  t.is(resource.access_token_format, 'opaque');
  t.is(resource.introspection_client_id, introspector);
  t.is(resource.access_token_ttl, 300);
});

// The domain checks the values after the database is open; flag parsing comes before it.
const badArguments: Array<{ name: string; args: string[]; mentions: string; opensDatabase: boolean }> = [
  { name: 'an unknown flag', args: ['users', 'list', '--colour'], mentions: '--colour', opensDatabase: false },
  { name: 'a missing --email', args: ['users', 'create', '--name', 'No Email', '--password', 'long-enough-password'], mentions: '--email', opensDatabase: false },
  { name: 'a bad --redirect-uri', args: ['clients', 'create', '--name', 'X', '--redirect-uri', 'not a url'], mentions: '--redirect-uri', opensDatabase: true },
  {
    name: 'a bad --format',
    args: ['resources', 'create', '--identifier', 'https://fmt.example', '--scope', 'a', '--format', 'xml'],
    mentions: '--format',
    opensDatabase: true,
  },
  {
    name: 'a lifetime that is not whole seconds',
    args: ['resources', 'create', '--identifier', 'https://ttl.example', '--scope', 'a', '--access-token-ttl', '1500ms'],
    mentions: '--access-token-ttl',
    opensDatabase: false,
  },
  { name: 'an unknown command', args: ['frobnicate'], mentions: 'frobnicate', opensDatabase: false },
  { name: 'an unknown subcommand', args: ['audit', 'lsit'], mentions: 'audit lsit', opensDatabase: false },
  { name: 'a missing id', args: ['clients', 'rotate-secret', '--grace', '1h'], mentions: 'client id', opensDatabase: false },
  { name: 'two ids', args: ['users', 'update', 'one', 'two', '--name', 'X'], mentions: 'one user id', opensDatabase: false },
  { name: 'a flag another command has', args: ['grants', 'list', '--user', 'someone', '--cursor', 'abc'], mentions: '--cursor', opensDatabase: false },
  { name: 'an unreadable --grace', args: ['clients', 'rotate-secret', 'some-client', '--grace', 'a while'], mentions: '--grace', opensDatabase: false },
];

for (const { name, args, mentions, opensDatabase } of badArguments) {
  test(`${name} fails with one error line and no stack trace`, async (t) => {
    const result = await (opensDatabase ? cli(rejects, args) : cliWithoutDatabase(args));
    assertOneLineError(t, result, mentions);
    // Refused before the database opens means refused as a usage error.
    if (!opensDatabase) t.is(result.code, 2);
  });
}

test('an invalid environment variable fails with one line naming it', async (t) => {
  const result = await cliWithoutDatabase(['users', 'list'], { PORT: 'abc' });
  t.not(result.code, 0);
  t.is(result.stdout, '');
  t.deepEqual(lines(result.stderr).length, 1, result.stderr);
  t.regex(result.stderr, /^error: .*\bPORT\b/);
  t.false(result.stderr.includes('    at '));
});
