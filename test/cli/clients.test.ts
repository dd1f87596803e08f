import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertOneLineError, clientCredentials, cliFor, eventually, json, type Page } from './support.js';

let server: TestServer;
let cli: ReturnType<typeof cliFor>;

test.before(async () => {
  server = await startTestServer();
  cli = cliFor(server);
});

test.after.always(async () => {
  await server?.dispose();
});

type Client = Record<string, unknown>;

async function createWebClient(t: Parameters<typeof json>[0], name: string, extra: string[] = []): Promise<Client> {
  return json<Client>(t, await cli(['clients', 'create', '--name', name, '--redirect-uri', 'https://app.example/cb', ...extra, '--json']));
}

test('clients create takes every setting as a flag, and get shows them', async (t) => {
  const created = await createWebClient(t, 'Full', [
    '--redirect-uri',
    'https://app.example/other',
    '--cors-origin',
    'https://app.example',
    '--first-party',
    '--logo-uri',
    'https://app.example/logo.png',
    '--client-uri',
    'https://app.example/',
    '--policy-uri',
    'https://app.example/privacy',
    '--tos-uri',
    'https://app.example/terms',
    '--access-token-ttl',
    '5m',
    '--refresh-token-ttl',
    '30d',
    '--token-endpoint-auth-method',
    'client_secret_post',
  ]);
  const fetched = json<Client>(t, await cli(['clients', 'get', created.client_id as string, '--json']));
  t.false('client_secret' in fetched, 'get never shows a secret');
  t.like(fetched, {
    client_name: 'Full',
    redirect_uris: ['https://app.example/cb', 'https://app.example/other'],
    cors_origins: ['https://app.example'],
    first_party: true,
    logo_uri: 'https://app.example/logo.png',
    client_uri: 'https://app.example/',
    policy_uri: 'https://app.example/privacy',
    tos_uri: 'https://app.example/terms',
    token_endpoint_auth_method: 'client_secret_post',
    access_token_ttl: 300,
    refresh_token_ttl: 30 * 86_400,
  });
});

test('clients update replaces a list flag whole, clears a value given as "", and keeps what is not given', async (t) => {
  const created = await createWebClient(t, 'Before', ['--redirect-uri', 'https://app.example/two', '--logo-uri', 'https://app.example/logo.png', '--first-party']);
  const id = created.client_id as string;
  const updated = json<Client>(
    t,
    await cli(['clients', 'update', id, '--redirect-uri', 'https://new.example/cb', '--logo-uri', '', '--no-first-party', '--name', 'After', '--json']),
  );
  t.deepEqual(updated.redirect_uris, ['https://new.example/cb']);
  t.is(updated.logo_uri ?? null, null);
  t.is(updated.first_party, false);
  t.is(updated.client_name, 'After');
  t.deepEqual(updated.grant_types, created.grant_types, 'untouched settings stay');
  t.deepEqual(json<Client>(t, await cli(['clients', 'get', id, '--json'])).redirect_uris, ['https://new.example/cb']);

  const cleared = json<Client>(t, await cli(['clients', 'update', id, '--cors-origin', 'https://a.example', '--json']));
  t.deepEqual(cleared.cors_origins, ['https://a.example']);
  t.deepEqual(json<Client>(t, await cli(['clients', 'update', id, '--cors-origin', '', '--json'])).cors_origins, []);
});

test('clients update rejects --public and names the bad flag in domain errors', async (t) => {
  const id = (await createWebClient(t, 'Strict')).client_id as string;
  const unknown = await cli(['clients', 'update', id, '--public']);
  assertOneLineError(t, unknown, '--public');
  t.is(unknown.code, 2);
  assertOneLineError(t, await cli(['clients', 'update', id, '--access-token-ttl', '2d']), '--access-token-ttl');
  assertOneLineError(t, await cli(['clients', 'update', id, '--redirect-uri', '']), '--redirect-uri');
  assertOneLineError(t, await cli(['clients', 'update', id, '--jwks', '{not json']), '--jwks');
  assertOneLineError(t, await cli(['clients', 'update', 'no-such-client', '--name', 'X']), 'no-such-client');
  assertOneLineError(t, await cli(['clients', 'get']), 'client id');
  // Generated ids may start with "-": still an id (not found, exit 1), not an unknown flag (exit 2).
  const dashed = await cli(['clients', 'get', '-dash-id']);
  assertOneLineError(t, dashed, 'no client with id -dash-id');
  t.is(dashed.code, 1);
  assertOneLineError(t, await cli(['resources', 'create', '--identifier', 'https://dash.example', '--scope', 'a', '--introspection-client', '-dash-id']), '--introspection-client is not');
});

test('--jwks reads a file with @ and makes a private_key_jwt client without a secret', async (t) => {
  const { publicKey } = await import('node:crypto').then((crypto) => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-jwks-')), 'jwks.json');
  await fs.writeFile(file, JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
  const created = json<Client>(
    t,
    await cli(['clients', 'create', '--name', 'Keys', '--grant', 'client_credentials', '--token-endpoint-auth-method', 'private_key_jwt', '--jwks', `@${file}`, '--json']),
  );
  t.false('client_secret' in created);
  t.is(created.token_endpoint_auth_method, 'private_key_jwt');
  t.is((created.jwks as { keys: Array<{ kid: string }> }).keys[0]!.kid, 'k1');
});

test('protocol flags: --require-par, --dpop-bound, --require-signed-request-object and --refresh-reuse-grace, each undone on update', async (t) => {
  const created = await createWebClient(t, 'Strict', ['--require-par', '--dpop-bound', '--refresh-reuse-grace', '10s']);
  t.like(created, { require_pushed_authorization_requests: true, dpop_bound_access_tokens: true, require_signed_request_object: false, refresh_token_reuse_grace: 10 });
  const id = created.client_id as string;
  const relaxed = json<Client>(t, await cli(['clients', 'update', id, '--no-require-par', '--refresh-reuse-grace', '', '--json']));
  t.like(relaxed, { require_pushed_authorization_requests: false, dpop_bound_access_tokens: true });
  t.false('refresh_token_reuse_grace' in relaxed, '"" goes back to the server default');
  t.is(json<Client>(t, await cli(['clients', 'update', id, '--no-dpop-bound', '--refresh-reuse-grace', '1m', '--json'])).dpop_bound_access_tokens, false);
  t.is(json<Client>(t, await cli(['clients', 'get', id, '--json'])).refresh_token_reuse_grace, 60);

  assertOneLineError(t, await cli(['clients', 'update', id, '--refresh-reuse-grace', '6m']), '--refresh-reuse-grace must be at most 5 minutes');
  assertOneLineError(t, await cli(['clients', 'update', id, '--refresh-reuse-grace', 'soon']), '--refresh-reuse-grace');
  assertOneLineError(t, await cli(['clients', 'update', id, '--require-signed-request-object']), '--require-signed-request-object needs the public keys');
  const machine = await cli(['clients', 'create', '--name', 'Pushy machine', '--grant', 'client_credentials', '--require-par']);
  assertOneLineError(t, machine, '--require-par only applies');
});

test('--grant takes the device code grant: a client for a terminal, without redirect URIs', async (t) => {
  const created = json<Client>(
    t,
    await cli(['clients', 'create', '--name', 'Terminal', '--public', '--grant', 'urn:ietf:params:oauth:grant-type:device_code,refresh_token', '--json']),
  );
  t.deepEqual(created.grant_types, ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token']);
  t.deepEqual(created.redirect_uris, []);
  t.is(created.token_endpoint_auth_method, 'none');
});

test('clients list pages with --limit and --cursor', async (t) => {
  const ids = [];
  for (const name of ['Page 1', 'Page 2', 'Page 3']) ids.push((await createWebClient(t, name)).client_id as string);
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: Page = json<Page>(t, await cli(['clients', 'list', '--name', 'Page', '--limit', '2', ...(cursor ? ['--cursor', cursor] : []), '--json']));
    t.true(page.items.length <= 2);
    seen.push(...page.items.map((item) => item.client_id as string));
    cursor = page.next_cursor;
  } while (cursor);
  t.deepEqual(seen.sort(), ids.sort());
});

test('rotate-secret prints a new secret once; the old one stops working at the server', async (t) => {
  const created = json<Client>(t, await cli(['clients', 'create', '--name', 'Rotating', '--grant', 'client_credentials', '--json']));
  const id = created.client_id as string;
  const oldSecret = created.client_secret as string;
  t.is(await clientCredentials(server, id, oldSecret), 200);

  const human = await cli(['clients', 'rotate-secret', id]);
  t.is(human.code, 0, human.stderr);
  const newSecret = /^client_secret\s+(\S+)$/m.exec(human.stdout)?.[1];
  t.truthy(newSecret, human.stdout);
  t.not(newSecret, oldSecret);
  t.regex(human.stderr, /shown once/);

  t.true(await eventually(async () => (await clientCredentials(server, id, oldSecret)) === 401), 'the old secret still works');
  t.is(await clientCredentials(server, id, newSecret!), 200);

  // With --grace the secret before keeps working for a while.
  const graced = json<Client>(t, await cli(['clients', 'rotate-secret', id, '--grace', '1h', '--json']));
  t.is(typeof graced.client_secret, 'string');
  t.truthy(graced.previous_secret_expires_at);
  t.true(await eventually(async () => (await clientCredentials(server, id, graced.client_secret as string)) === 200));
  t.is(await clientCredentials(server, id, newSecret!), 200);

  assertOneLineError(t, await cli(['clients', 'rotate-secret', id, '--grace', '60d']), '--grace');
});

test('a client deleted with the CLI stops working at the running server', async (t) => {
  const created = json<Client>(t, await cli(['clients', 'create', '--name', 'Doomed worker', '--grant', 'client_credentials', '--json']));
  const id = created.client_id as string;
  t.is(await clientCredentials(server, id, created.client_secret as string), 200);
  t.deepEqual(json(t, await cli(['clients', 'delete', id, '--json'])), { client_id: id, deleted: true });
  t.true(await eventually(async () => (await clientCredentials(server, id, created.client_secret as string)) === 401), 'the deleted client still gets tokens');
  assertOneLineError(t, await cli(['clients', 'get', id]), id);
});
