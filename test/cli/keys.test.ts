import test from 'ava';
import { lines } from '../helpers/processes.js';
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

interface KeyJson {
  kid: string;
  alg: string;
  state: string;
  activates_at: string;
}

test('keys list and keys rotate, as JSON and as tables', async (t) => {
  const before = json<Page<KeyJson>>(t, await cli(['keys', 'list', '--json'])).items;
  t.deepEqual(before.map((key) => [key.alg, key.state]).sort(), [
    ['ES256', 'active'],
    ['RS256', 'active'],
  ]);
  const oldEs = before.find((key) => key.alg === 'ES256')!.kid;

  const { rotated } = json<{ rotated: KeyJson[] }>(t, await cli(['keys', 'rotate', '--alg', 'ES256', '--delay', '0s', '--json']));
  // "0s" is the shortest delay there is: every node's change feed gets ten polls to publish it first.
  t.deepEqual(rotated.map((key) => [key.alg, key.state]), [['ES256', 'pending']]);
  const activatesIn = Date.parse(rotated[0]!.activates_at) - Date.now();
  t.true(activatesIn <= 10 * 100, 'ten polls of the test servers\' 100ms change feed');
  await new Promise((resolve) => setTimeout(resolve, Math.max(activatesIn, 0)));

  const listed = await cli(['keys', 'list']);
  t.is(listed.code, 0, listed.stderr);
  const [header, ...rows] = lines(listed.stdout);
  t.deepEqual(header!.split(/\s+/), ['kid', 'alg', 'state', 'age', 'activates', 'retires']);
  const rowOf = (kid: string) => rows.find((row) => row.startsWith(kid))?.split(/\s+/);
  t.deepEqual(rowOf(rotated[0]!.kid)?.slice(1, 3), ['ES256', 'active']);
  t.deepEqual(rowOf(oldEs)?.slice(1, 3), ['ES256', 'retiring']);
  t.regex(rowOf(oldEs)![3]!, /^\d+[smhd]$/, 'age, at a glance');

  const pending = await cli(['keys', 'rotate', '--delay', '1h']);
  t.is(pending.code, 0, pending.stderr);
  const [, ...pendingRows] = lines(pending.stdout);
  t.deepEqual(pendingRows.map((row) => row.split(/\s+/).slice(1, 3)).sort(), [
    ['ES256', 'pending'],
    ['RS256', 'pending'],
  ]);
  t.regex(pending.stderr, /stay in the JWKS until every token they signed has expired/);
});

test('bad keys flags give one-line errors', async (t) => {
  const [alg, delay] = await Promise.all([cli(['keys', 'rotate', '--alg', 'HS256']), cli(['keys', 'rotate', '--delay', 'soon'])]);
  assertOneLineError(t, alg!, '--alg takes ES256 or RS256');
  assertOneLineError(t, delay!, '--delay');
});
