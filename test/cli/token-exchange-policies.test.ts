import test from 'ava';
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

test('token-exchange-policies create, get, list and delete, with errors naming the flag', async (t) => {
  const client = json(t, await cli(['clients', 'create', '--name', 'Orders service', '--grant', 'urn:ietf:params:oauth:grant-type:token-exchange', '--json'])).client_id as string;
  json(t, await cli(['resources', 'create', '--identifier', 'https://orders.example', '--scope', 'read write', '--json']));
  json(t, await cli(['resources', 'create', '--identifier', 'https://inventory.example', '--scope', 'read write', '--json']));
  const base = ['token-exchange-policies', 'create', '--client', client, '--subject-audience', 'https://orders.example', '--target-audience', 'https://inventory.example'];

  const created = json(t, await cli([...base, '--scope', 'read', '--json']));
  t.like(created, { client_id: client, subject_audience: 'https://orders.example', target_audience: 'https://inventory.example', scope: 'read' });
  const id = created.id as string;
  t.deepEqual(json(t, await cli(['token-exchange-policies', 'get', id, '--json'])), created);
  t.deepEqual(json<Page>(t, await cli(['token-exchange-policies', 'list', '--client', client, '--json'])).items, [created]);
  const human = await cli(['token-exchange-policies', 'list']);
  t.is(human.code, 0);
  t.true(human.stdout.includes(id) && human.stdout.includes('https://inventory.example'));

  assertOneLineError(t, await cli([...base, '--scope', 'read']), 'already has a policy');
  assertOneLineError(t, await cli([...base, '--scope', 'delete']), '--scope');
  assertOneLineError(t, await cli(['token-exchange-policies', 'create', '--client', 'nobody', '--subject-audience', 'https://orders.example', '--target-audience', 'https://inventory.example', '--scope', 'read']), '--client');
  assertOneLineError(t, await cli(['token-exchange-policies', 'create', '--client', client, '--subject-audience', 'https://nowhere.example', '--target-audience', 'https://inventory.example', '--scope', 'read']), '--subject-audience');
  assertOneLineError(t, await cli(['token-exchange-policies', 'create', '--client', client, '--subject-audience', 'https://orders.example', '--scope', 'read']), '--target-audience');

  t.deepEqual(json(t, await cli(['token-exchange-policies', 'delete', id, '--json'])), { id, deleted: true });
  assertOneLineError(t, await cli(['token-exchange-policies', 'get', id]), id);
  t.deepEqual(json<Page>(t, await cli(['token-exchange-policies', 'list', '--json'])).items, []);
});
