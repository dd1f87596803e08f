import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { authenticate } from '../../src/domain/accounts.js';
import { Browser } from '../helpers/browser.js';
import { discover, signIn, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertOneLineError, cliFor, json, type Page } from './support.js';

let server: TestServer;
let cli: ReturnType<typeof cliFor>;

test.before(async () => {
  server = await startTestServer();
  cli = cliFor(server);
});

test.after.always(async () => {
  await server?.dispose();
});

type User = Record<string, unknown>;

function newEmail(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}@example.com`;
}

async function createUser(t: ExecutionContext, extra: string[] = [], password = 'first-password'): Promise<User & { email: string; id: string }> {
  return json(t, await cli(['users', 'create', '--email', newEmail('user'), '--password', password, ...extra, '--json']));
}

test('users create --admin makes an admin; without it a user is not one', async (t) => {
  t.is((await createUser(t, ['--admin'])).is_admin, true);
  t.is((await createUser(t)).is_admin, false);
});

test('users get, update and its --no- flags, and "" clearing the name', async (t) => {
  const user = await createUser(t, ['--name', 'Named', '--email-verified']);
  t.like(json(t, await cli(['users', 'get', user.id, '--json'])), { id: user.id, name: 'Named', email_verified: true });
  const email = newEmail('changed');
  const updated = json(t, await cli(['users', 'update', user.id, '--email', email, '--name', '', '--admin', '--json']));
  t.like(updated, { email, name: null, is_admin: true, email_verified: false });
  t.like(json(t, await cli(['users', 'update', user.id, '--no-admin', '--email-verified', '--json'])), { is_admin: false, email_verified: true, email });
  assertOneLineError(t, await cli(['users', 'update', user.id, '--email', 'not-an-email']), '--email');
  assertOneLineError(t, await cli(['users', 'update', 'not-a-user', '--name', 'X']), 'not-a-user');
});

test('users set-password takes --password or reads it from stdin, and only the new one signs in', async (t) => {
  const user = await createUser(t);
  json(t, await cli(['users', 'set-password', user.id, '--password', 'second-password', '--json']));
  await t.throwsAsync(authenticate(server.deps, { email: user.email, password: 'first-password' }));
  t.is((await authenticate(server.deps, { email: user.email, password: 'second-password' })).id, user.id);

  json(t, await cli(['users', 'set-password', user.id, '--json'], { input: 'third-password\n' }));
  t.is((await authenticate(server.deps, { email: user.email, password: 'third-password' })).id, user.id);
  assertOneLineError(t, await cli(['users', 'set-password', user.id, '--password', 'short']), '--password');
});

test('users disable, enable and delete', async (t) => {
  const user = await createUser(t);
  t.is(json(t, await cli(['users', 'disable', user.id, '--json'])).disabled, true);
  await t.throwsAsync(authenticate(server.deps, { email: user.email, password: 'first-password' }));
  t.is(json(t, await cli(['users', 'enable', user.id, '--json'])).disabled, false);
  t.is((await authenticate(server.deps, { email: user.email, password: 'first-password' })).id, user.id);
  t.deepEqual(json(t, await cli(['users', 'delete', user.id, '--json'])), { id: user.id, deleted: true });
  assertOneLineError(t, await cli(['users', 'get', user.id, '--json']), user.id);
});

test('users list pages with --limit and --cursor and filters by --email', async (t) => {
  const label = `pager-${randomBytes(3).toString('hex')}`;
  const ids: string[] = [];
  for (let index = 0; index < 3; index += 1) {
    ids.push((json(t, await cli(['users', 'create', '--email', `${label}-${index}@example.com`, '--password', 'first-password', '--json'])) as User).id as string);
  }
  const first = json<Page>(t, await cli(['users', 'list', '--email', label, '--limit', '2', '--json']));
  t.is(first.items.length, 2);
  t.truthy(first.next_cursor);
  const second = json<Page>(t, await cli(['users', 'list', '--email', label, '--limit', '2', '--cursor', first.next_cursor!, '--json']));
  t.is(second.next_cursor, null);
  t.deepEqual([...first.items, ...second.items].map((item) => item.id), ids);
  assertOneLineError(t, await cli(['users', 'list', '--limit', '0']), '--limit');
});

test('grants list shows what a user allowed a client, and grants revoke takes it away', async (t) => {
  const user = await createUser(t, ['--email-verified']);
  const client = json(t, await cli(['clients', 'create', '--name', 'Granted', '--redirect-uri', 'https://rp.example/callback', '--json']));
  const rp: RelyingParty = {
    config: await discover(server, client.client_id as string, client.client_secret as string),
    clientId: client.client_id as string,
    clientSecret: client.client_secret as string,
    redirectUri: 'https://rp.example/callback',
  };
  await signIn(new Browser(), rp, { email: user.email, password: 'first-password' });

  const grants = json<Page>(t, await cli(['grants', 'list', '--user', user.id, '--json']));
  t.is(grants.items.length, 1);
  const [grant] = grants.items;
  t.like(grant, { user_id: user.id, client_id: rp.clientId });
  t.true((grant!.scope as string).split(' ').includes('openid'));

  t.like(json(t, await cli(['grants', 'revoke', grant!.grant_id as string, '--json'])), { grant_id: grant!.grant_id });
  t.deepEqual(json<Page>(t, await cli(['grants', 'list', '--user', user.id, '--json'])).items, []);
  assertOneLineError(t, await cli(['grants', 'revoke', grant!.grant_id as string]), grant!.grant_id as string);
  assertOneLineError(t, await cli(['grants', 'list']), '--user');
});

test('audit list shows the CLI\'s own actions with actor type cli, filtered by --subject and --type', async (t) => {
  const user = await createUser(t);
  json(t, await cli(['users', 'disable', user.id, '--json']));
  const events = json<Page<{ type: string; actor: { type: string }; subject: { id: string } }>>(t, await cli(['audit', 'list', '--subject', user.id, '--json']));
  t.deepEqual(
    events.items.map((event) => event.type),
    ['user.disabled', 'user.created'],
    'newest first',
  );
  for (const event of events.items) {
    t.is(event.actor.type, 'cli');
    t.is(event.subject.id, user.id);
  }
  const typed = json<Page<{ type: string }>>(t, await cli(['audit', 'list', '--subject', user.id, '--type', 'user.created', '--json']));
  t.deepEqual(typed.items.map((event) => event.type), ['user.created']);
  const future = json<Page>(t, await cli(['audit', 'list', '--subject', user.id, '--from', new Date(Date.now() + 3_600_000).toISOString(), '--json']));
  t.deepEqual(future.items, []);
  assertOneLineError(t, await cli(['audit', 'list', '--from', 'yesterday-ish']), '--from');
  assertOneLineError(t, await cli(['audit', 'list', '--type', 'nothing.happened']), '--type');
});
