import test from 'ava';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertOneLineError, cliFor, eventually, json, type Page } from './support.js';

let server: TestServer;
let cli: ReturnType<typeof cliFor>;

test.before(async () => {
  server = await startTestServer();
  cli = cliFor(server);
});

test.after.always(async () => {
  await server?.dispose();
});

async function register(token: string) {
  const response = await fetch(`${server.issuer}/reg`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: ['https://app.example/cb'] }),
  });
  return { status: response.status, body: await response.text() };
}

test('resources get, update (with "" clearing) and delete', async (t) => {
  const introspector = json(t, await cli(['clients', 'create', '--name', 'Introspector', '--grant', 'client_credentials', '--json'])).client_id as string;
  const identifier = 'https://billing.example';
  json(t, await cli(['resources', 'create', '--identifier', identifier, '--scope', 'read', '--access-token-ttl', '1h', '--json']));
  t.like(json(t, await cli(['resources', 'get', identifier, '--json'])), { identifier, scope: 'read', access_token_ttl: 3600, access_token_format: 'jwt' });

  const updated = json(
    t,
    await cli(['resources', 'update', identifier, '--scope', 'read write', '--format', 'opaque', '--introspection-client', introspector, '--access-token-ttl', '', '--json']),
  );
  t.like(updated, { scope: 'read write', access_token_format: 'opaque', introspection_client_id: introspector, access_token_ttl: null });
  t.like(json(t, await cli(['resources', 'update', identifier, '--introspection-client', '', '--json'])), { introspection_client_id: null, scope: 'read write' });

  assertOneLineError(t, await cli(['resources', 'update', identifier, '--format', 'xml']), '--format');
  assertOneLineError(t, await cli(['resources', 'update', identifier, '--scope', 'openid']), '--scope');
  assertOneLineError(t, await cli(['resources', 'update', identifier, '--introspection-client', 'nobody']), '--introspection-client');
  assertOneLineError(t, await cli(['resources', 'update', identifier, '--identifier', 'https://x.example']), '--identifier');

  t.deepEqual(json(t, await cli(['resources', 'delete', identifier, '--json'])), { identifier, deleted: true });
  const listed = json<Page>(t, await cli(['resources', 'list', '--json']));
  t.false(listed.items.some((item) => item.identifier === identifier));
  assertOneLineError(t, await cli(['resources', 'get', identifier]), identifier);
});

test('an initial access token from the CLI registers a client at the registration endpoint, until revoked', async (t) => {
  const created = json(t, await cli(['initial-access-tokens', 'create', '--description', 'CI pipeline', '--expires-in', '1d', '--json']));
  const token = created.token as string;
  t.is(typeof token, 'string');
  t.is(created.description, 'CI pipeline');
  const expiresIn = Date.parse(created.expires_at as string) - Date.now();
  t.true(expiresIn > 86_000_000 && expiresIn <= 86_400_000, created.expires_at as string);

  const registered = await register(token);
  t.is(registered.status, 201, registered.body);

  const listed = json<Page>(t, await cli(['initial-access-tokens', 'list', '--json']));
  const entry = listed.items.find((item) => item.id === created.id);
  t.like(entry, { description: 'CI pipeline', revoked_at: null });
  t.false(JSON.stringify(listed).includes(token), 'a listing never shows the token');

  t.truthy(json(t, await cli(['initial-access-tokens', 'revoke', created.id as string, '--json'])).revoked_at);
  t.true(await eventually(async () => (await register(token)).status === 401), 'a revoked token still registers clients');
});

test('initial-access-tokens create prints the token once with a note; bad input names the flag', async (t) => {
  const human = await cli(['initial-access-tokens', 'create']);
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /^token\s+\S{40,}$/m);
  t.regex(human.stderr, /shown once/);
  assertOneLineError(t, await cli(['initial-access-tokens', 'create', '--expires-in', '10s']), '--expires-in');
  assertOneLineError(t, await cli(['initial-access-tokens', 'create', '--expires-in', 'soon']), '--expires-in');
  assertOneLineError(t, await cli(['initial-access-tokens', 'revoke', 'no-such-token']), 'no-such-token');
});
