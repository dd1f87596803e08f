import { randomBytes } from 'node:crypto';
import test from 'ava';
import * as oidc from 'openid-client';
import { adminClientToken, adminFetch } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { createTestUser, discover, postWithBasic, redeem, REDIRECT_URI, signIn, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let admin: { rp: RelyingParty; token: string };

test.before(async () => {
  server = await startTestServer();
  admin = await adminClientToken(server);
});

test.after.always(async () => {
  await server?.dispose();
});

const api = (path: string, init: { method?: string; body?: unknown } = {}) => adminFetch(server, admin.token, path, init);
const unique = () => randomBytes(4).toString('hex');
const apiIdentifier = () => `https://api-${unique()}.example/v1`;

function machineClientBody(extra: Record<string, unknown> = {}) {
  return { client_name: `Service ${unique()}`, grant_types: ['client_credentials'], ...extra };
}

// ---------------------------------------------------------------- clients

test('creating a client returns its secret once; reading it never shows the secret', async (t) => {
  const created = await api('/clients', {
    method: 'POST',
    body: { client_name: 'Web shop', redirect_uris: ['https://shop.example/cb'], post_logout_redirect_uris: ['https://shop.example/'], logo_uri: 'https://shop.example/logo.png' },
  });
  t.is(created.status, 201);
  t.is(created.headers.get('cache-control'), 'no-store');
  const body = created.body!;
  const secret = body.client_secret as string;
  t.is(typeof secret, 'string');
  t.true(secret.length >= 32);
  t.is(body.client_name, 'Web shop');
  t.deepEqual(body.redirect_uris, ['https://shop.example/cb']);
  t.deepEqual(body.grant_types, ['authorization_code', 'refresh_token']);
  t.is(body.token_endpoint_auth_method, 'client_secret_basic');
  t.is(body.logo_uri, 'https://shop.example/logo.png');

  const read = await api(`/clients/${body.client_id as string}`);
  t.is(read.status, 200);
  t.is(read.body!.client_name, 'Web shop');
  t.false('client_secret' in read.body!);
  const listed = await api(`/clients?name=web%20SHOP`);
  t.true((listed.body!.items as Array<{ client_id: string }>).some((client) => client.client_id === body.client_id));
  for (const text of [JSON.stringify(read.body), JSON.stringify(listed.body)]) {
    t.false(text.includes(secret));
    t.false(/hash/i.test(text));
  }
});

test('a public client gets no secret', async (t) => {
  const created = await api('/clients', { method: 'POST', body: { client_name: 'SPA', public: true, redirect_uris: ['https://spa.example/cb'] } });
  t.is(created.status, 201);
  t.is(created.body!.token_endpoint_auth_method, 'none');
  t.false('client_secret' in created.body!);
});

test('PATCH changes the given settings, keeps the rest, and null clears an optional one', async (t) => {
  const created = await api('/clients', {
    method: 'POST',
    body: { client_name: 'Blog', redirect_uris: ['https://blog.example/cb'], logo_uri: 'https://blog.example/logo.png' },
  });
  const id = created.body!.client_id as string;
  const changed = await api(`/clients/${id}`, { method: 'PATCH', body: { client_name: 'Blog 2', logo_uri: null, first_party: true, cors_origins: ['https://blog.example'] } });
  t.is(changed.status, 200);
  t.is(changed.body!.client_name, 'Blog 2');
  t.false('logo_uri' in changed.body!);
  t.is(changed.body!.first_party, true);
  t.deepEqual(changed.body!.cors_origins, ['https://blog.example']);
  t.deepEqual(changed.body!.redirect_uris, ['https://blog.example/cb']);
  t.is((await api(`/clients/${id}`)).body!.client_name, 'Blog 2');
});

test('protocol settings round-trip under their RFC names: PAR, DPoP, signed request objects, refresh reuse grace', async (t) => {
  const created = await api('/clients', {
    method: 'POST',
    body: {
      client_name: 'Strict',
      redirect_uris: ['https://strict.example/cb'],
      require_pushed_authorization_requests: true,
      dpop_bound_access_tokens: true,
      refresh_token_reuse_grace: 10,
    },
  });
  t.is(created.status, 201);
  const id = created.body!.client_id as string;
  t.like((await api(`/clients/${id}`)).body, {
    require_pushed_authorization_requests: true,
    dpop_bound_access_tokens: true,
    require_signed_request_object: false,
    refresh_token_reuse_grace: 10,
  });

  const changed = await api(`/clients/${id}`, { method: 'PATCH', body: { require_pushed_authorization_requests: false, refresh_token_reuse_grace: null } });
  t.is(changed.status, 200);
  t.is(changed.body!.require_pushed_authorization_requests, false, 'off reads as false');
  t.is(changed.body!.dpop_bound_access_tokens, true, 'what PATCH does not name stays');
  t.false('refresh_token_reuse_grace' in changed.body!, 'null goes back to the server default');

  const keyless = await api(`/clients/${id}`, { method: 'PATCH', body: { require_signed_request_object: true } });
  t.is(keyless.status, 400);
  t.deepEqual(keyless.body!.details, { require_signed_request_object: 'needs the public keys of the client (jwks or jwks_uri) to check its request objects' });
  const tooLong = await api(`/clients/${id}`, { method: 'PATCH', body: { refresh_token_reuse_grace: 301 } });
  t.is(tooLong.status, 400);
  t.deepEqual(tooLong.body!.details, { refresh_token_reuse_grace: 'must be at most 5 minutes' });
  const notFlag = await api(`/clients/${id}`, { method: 'PATCH', body: { dpop_bound_access_tokens: 'yes' } });
  t.deepEqual(notFlag.body!.details, { dpop_bound_access_tokens: 'must be true or false' });
});

test('a device client registers without redirect URIs', async (t) => {
  const created = await api('/clients', {
    method: 'POST',
    body: { client_name: 'Terminal', public: true, grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'] },
  });
  t.is(created.status, 201);
  t.deepEqual(created.body!.grant_types, ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token']);
  t.deepEqual(created.body!.redirect_uris, []);
  t.is(created.body!.token_endpoint_auth_method, 'none');
});

test('rotating a secret returns the new one once; the old one works during the grace period', async (t) => {
  const created = await api('/clients', { method: 'POST', body: machineClientBody() });
  const id = created.body!.client_id as string;
  const first = created.body!.client_secret as string;
  const rotated = await api(`/clients/${id}/rotate-secret`, { method: 'POST', body: { grace_seconds: 3600 } });
  t.is(rotated.status, 200);
  const second = rotated.body!.client_secret as string;
  t.is(typeof second, 'string');
  t.not(second, first);
  t.is(typeof rotated.body!.previous_secret_expires_at, 'string');
  t.false('client_secret' in (await api(`/clients/${id}`)).body!);

  for (const secret of [first, second]) {
    const grant = await oidc.clientCredentialsGrant(await discover(server, id, secret));
    t.truthy(grant.access_token);
  }

  const without = await api(`/clients/${id}/rotate-secret`, { method: 'POST' });
  t.is(without.status, 200);
  t.is(without.body!.previous_secret_expires_at, null);
});

test('rotating the secret of a public client is a conflict', async (t) => {
  const created = await api('/clients', { method: 'POST', body: { client_name: 'SPA', public: true, redirect_uris: ['https://spa.example/cb'] } });
  const rotated = await api(`/clients/${created.body!.client_id as string}/rotate-secret`, { method: 'POST', body: {} });
  t.is(rotated.status, 409);
  t.is(rotated.body!.code, 'client.no_secret');
});

test('deleting a client answers 204, then 404, and its opaque client-credentials tokens introspect inactive', async (t) => {
  const introspector = await api('/clients', { method: 'POST', body: machineClientBody({ client_name: 'Orders API' }) });
  const introspectorRp = { clientId: introspector.body!.client_id as string, clientSecret: introspector.body!.client_secret as string };
  const identifier = apiIdentifier();
  const resource = await api('/resources', {
    method: 'POST',
    body: { identifier, scope: 'orders:read', access_token_format: 'opaque', introspection_client_id: introspectorRp.clientId },
  });
  t.is(resource.status, 201);
  const caller = await api('/clients', { method: 'POST', body: machineClientBody({ resources: [identifier], scope: 'orders:read' }) });
  t.is(caller.status, 201);
  const callerId = caller.body!.client_id as string;
  const config = await discover(server, callerId, caller.body!.client_secret as string);
  const { access_token: token } = await oidc.clientCredentialsGrant(config, { resource: identifier, scope: 'orders:read' });

  const introspect = async () => (await (await postWithBasic(`${server.issuer}/token/introspection`, introspectorRp, { token })).json()) as Record<string, unknown>;
  const before = await introspect();
  t.is(before.active, true);
  t.is(before.client_id, callerId);

  const deleted = await api(`/clients/${callerId}`, { method: 'DELETE' });
  t.is(deleted.status, 204);
  t.is(deleted.body, undefined);
  t.deepEqual(await introspect(), { active: false });
  const gone = await api(`/clients/${callerId}`);
  t.is(gone.status, 404);
  t.is(gone.body!.code, 'client.not_found');
  t.is((await api(`/clients/${callerId}`, { method: 'DELETE' })).status, 404);
});

test('client validation errors name the fields as sent, in snake_case', async (t) => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ redirect_uris: ['https://ok.example/cb'] }, 'client_name'],
    [{ client_name: 'X', redirect_uris: ['not a url'] }, 'redirect_uris.0'],
    [{ client_name: 'X', redirect_uris: 'https://ok.example/cb' }, 'redirect_uris'],
    [{ client_name: 'X', redirect_uri: ['https://ok.example/cb'] }, 'redirect_uri'],
    [{ client_name: 'X', public: true, grant_types: ['client_credentials'] }, 'grant_types'],
    [{ client_name: 'X', grant_types: ['password'] }, 'grant_types.0'],
    [{ client_name: 'X', redirect_uris: ['https://ok.example/cb'], access_token_ttl: 0 }, 'access_token_ttl'],
    [{ client_name: 'X', redirect_uris: ['https://ok.example/cb'], post_logout_redirect_uris: ['javascript:alert(1)'] }, 'post_logout_redirect_uris.0'],
    [{ client_name: 'X', grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt' }, 'jwks'],
  ];
  for (const [body, field] of cases) {
    const response = await api('/clients', { method: 'POST', body });
    t.is(response.status, 400, JSON.stringify(body));
    t.is(response.body!.code, 'input.invalid');
    t.is(response.body!.error, 'invalid_request');
    const details = response.body!.details as Record<string, string>;
    t.true(field in details, `${JSON.stringify(body)} -> ${JSON.stringify(details)}`);
    t.false(Object.keys(details).some((key) => /[A-Z]/.test(key)), JSON.stringify(details));
  }

  const created = await api('/clients', { method: 'POST', body: { client_name: 'Valid', redirect_uris: ['https://ok.example/cb'] } });
  const id = created.body!.client_id as string;
  const blank = await api(`/clients/${id}`, { method: 'PATCH', body: { client_name: ' ' } });
  t.is(blank.status, 400);
  t.deepEqual(Object.keys(blank.body!.details as object), ['client_name']);
  t.true((blank.body!.error_description as string).startsWith('client_name: '));
  const authChange = await api(`/clients/${id}`, { method: 'PATCH', body: { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://ok.example/jwks' } });
  t.is(authChange.status, 400);
  t.true('token_endpoint_auth_method' in (authChange.body!.details as object));
  const notPatchable = await api(`/clients/${id}`, { method: 'PATCH', body: { public: true } });
  t.is(notPatchable.status, 400);
  t.deepEqual(notPatchable.body!.details, { public: 'is not a known field' });
});

// ---------------------------------------------------------------- users

test('users: create, read, find by email, change, set password, disable, enable, delete', async (t) => {
  const email = `ann-${unique()}@example.com`;
  const created = await api('/users', { method: 'POST', body: { email, name: 'Ann', password: 'correct horse battery', email_verified: true } });
  t.is(created.status, 201);
  const user = created.body!;
  t.is(user.email, email);
  t.is(user.name, 'Ann');
  t.is(user.email_verified, true);
  t.is(user.is_admin, false);
  t.is(user.disabled, false);
  t.false(JSON.stringify(user).includes('correct horse'));
  t.false(/password/i.test(JSON.stringify(user)));
  const id = user.id as string;

  t.is((await api(`/users/${id}`)).body!.email, email);
  const found = await api(`/users?email=${encodeURIComponent(email.toUpperCase())}`);
  t.deepEqual((found.body!.items as Array<{ id: string }>).map((item) => item.id), [id]);
  t.is(found.body!.next_cursor, null);

  const changed = await api(`/users/${id}`, { method: 'PATCH', body: { name: 'Ann B.', is_admin: true } });
  t.is(changed.status, 200);
  t.is(changed.body!.name, 'Ann B.');
  t.is(changed.body!.is_admin, true);
  t.is(changed.body!.email_verified, true);
  const newEmail = await api(`/users/${id}`, { method: 'PATCH', body: { email: `ann-new-${unique()}@example.com`, name: null } });
  t.is(newEmail.body!.email_verified, false);
  t.is(newEmail.body!.name, null);

  const password = await api(`/users/${id}/password`, { method: 'PUT', body: { password: 'another long password' } });
  t.is(password.status, 200);
  t.is(password.body!.id, id);

  t.is((await api(`/users/${id}/disable`, { method: 'POST' })).body!.disabled, true);
  t.is((await api(`/users/${id}/enable`, { method: 'POST' })).body!.disabled, false);
  t.is((await api(`/users/${id}`, { method: 'DELETE' })).status, 204);
  const gone = await api(`/users/${id}`);
  t.is(gone.status, 404);
  t.is(gone.body!.code, 'user.not_found');
  t.is((await api('/users/not-a-uuid')).status, 404);
});

test('user validation errors name the fields as sent', async (t) => {
  const cases: Array<[string, string, Record<string, unknown>, string]> = [
    ['POST', '/users', { email: 'not-an-email', password: 'long enough pw' }, 'email'],
    ['POST', '/users', { email: `x-${unique()}@example.com`, password: 'short' }, 'password'],
    ['POST', '/users', { email: `x-${unique()}@example.com`, password: 'long enough pw', email_verified: 'yes' }, 'email_verified'],
    ['POST', '/users', { email: `x-${unique()}@example.com`, password: 'long enough pw', isAdmin: true }, 'isAdmin'],
  ];
  for (const [method, path, body, field] of cases) {
    const response = await api(path, { method, body });
    t.is(response.status, 400, JSON.stringify(body));
    t.true(field in (response.body!.details as object), JSON.stringify(response.body));
  }
  const email = `dup-${unique()}@example.com`;
  t.is((await api('/users', { method: 'POST', body: { email, password: 'long enough pw' } })).status, 201);
  const duplicate = await api('/users', { method: 'POST', body: { email, password: 'long enough pw' } });
  t.is(duplicate.status, 409);
  t.is(duplicate.body!.code, 'user.email_taken');
  const id = ((await api(`/users?email=${encodeURIComponent(email)}`)).body!.items as Array<{ id: string }>)[0]!.id;
  const patch = await api(`/users/${id}`, { method: 'PATCH', body: { is_admin: 'yes' } });
  t.deepEqual(patch.body!.details, { is_admin: 'must be true or false' });
  const weak = await api(`/users/${id}/password`, { method: 'PUT', body: { password: 'short' } });
  t.is(weak.status, 400);
  t.deepEqual(Object.keys(weak.body!.details as object), ['password']);
});

// ---------------------------------------------------------------- resources

test('resources: create, read by URL-encoded identifier, list, change, delete', async (t) => {
  const identifier = apiIdentifier();
  const path = `/resources/${encodeURIComponent(identifier)}`;
  const created = await api('/resources', { method: 'POST', body: { identifier, scope: 'read write', access_token_ttl: 600 } });
  t.is(created.status, 201);
  t.like(created.body!, { identifier, scope: 'read write', access_token_format: 'jwt', access_token_ttl: 600, introspection_client_id: null });

  t.is((await api(path)).body!.identifier, identifier);
  const listed = await api('/resources?limit=1000');
  t.true((listed.body!.items as Array<{ identifier: string }>).some((item) => item.identifier === identifier));

  const changed = await api(path, { method: 'PATCH', body: { scope: ['read'], access_token_format: 'opaque', access_token_ttl: null } });
  t.is(changed.status, 200);
  t.like(changed.body!, { scope: 'read', access_token_format: 'opaque', access_token_ttl: null });

  const duplicate = await api('/resources', { method: 'POST', body: { identifier, scope: 'read' } });
  t.is(duplicate.status, 409);

  t.is((await api(path, { method: 'DELETE' })).status, 204);
  t.is((await api(path)).status, 404);
});

test('resource validation errors name the fields as sent', async (t) => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ identifier: 'not a uri', scope: 'read' }, 'identifier'],
    [{ identifier: apiIdentifier(), scope: 'openid' }, 'scope'],
    [{ identifier: apiIdentifier(), scope: '' }, 'scope'],
    [{ identifier: apiIdentifier(), scope: 'read', access_token_format: 'paseto' }, 'access_token_format'],
    [{ identifier: apiIdentifier(), scope: 'read', access_token_ttl: 999999 }, 'access_token_ttl'],
  ];
  for (const [body, field] of cases) {
    const response = await api('/resources', { method: 'POST', body });
    t.is(response.status, 400, JSON.stringify(body));
    t.deepEqual(Object.keys(response.body!.details as object), [field], JSON.stringify(response.body));
  }
  const unknownClient = await api('/resources', { method: 'POST', body: { identifier: apiIdentifier(), scope: 'read', introspection_client_id: 'nobody' } });
  t.is(unknownClient.status, 404);
  t.deepEqual(Object.keys(unknownClient.body!.details as object), ['introspection_client_id']);
});

// ---------------------------------------------------------------- initial access tokens

test('initial access tokens: the token is shown once, listed without it, and revoked', async (t) => {
  const created = await api('/initial-access-tokens', { method: 'POST', body: { description: 'CI pipeline', expires_in: 3600 } });
  t.is(created.status, 201);
  const token = created.body!.token as string;
  t.is(typeof token, 'string');
  t.is(created.body!.description, 'CI pipeline');
  t.is(typeof created.body!.expires_at, 'string');
  t.is(created.body!.created_by, `client:${admin.rp.clientId}`);

  const listed = await api('/initial-access-tokens');
  t.false(JSON.stringify(listed.body).includes(token));
  const row = (listed.body!.items as Array<Record<string, unknown>>).find((item) => item.id === created.body!.id);
  t.truthy(row);
  t.is(row!.revoked_at, null);

  t.is((await api(`/initial-access-tokens/${created.body!.id as string}`, { method: 'DELETE' })).status, 204);
  const after = (await api('/initial-access-tokens')).body!.items as Array<Record<string, unknown>>;
  t.is(typeof after.find((item) => item.id === created.body!.id)!.revoked_at, 'string');

  const bad = await api('/initial-access-tokens', { method: 'POST', body: { expires_in: 5 } });
  t.is(bad.status, 400);
  t.deepEqual(Object.keys(bad.body!.details as object), ['expires_in']);
  t.is((await api('/initial-access-tokens/00000000-0000-4000-8000-000000000000', { method: 'DELETE' })).status, 404);
});

// ---------------------------------------------------------------- audit

test('audit events record who did what from where, and filter by type, actor, subject and time', async (t) => {
  const since = new Date(Date.now() - 1000).toISOString();
  const created = await api('/clients', { method: 'POST', body: machineClientBody() });
  const id = created.body!.client_id as string;
  const query = new URLSearchParams({ type: 'client.created', subject_id: id, actor_id: admin.rp.clientId, from: since });
  const events = await api(`/audit-events?${query.toString()}`);
  t.is(events.status, 200);
  const items = events.body!.items as Array<Record<string, unknown>>;
  t.is(items.length, 1);
  t.like(items[0]!, { type: 'client.created', actor: { type: 'client', id: admin.rp.clientId }, subject: { type: 'client', id }, outcome: 'success' });
  t.truthy(items[0]!.ip);

  const before = await api(`/audit-events?${new URLSearchParams({ subject_id: id, to: since }).toString()}`);
  t.deepEqual(before.body!.items, []);

  for (const [param, value] of [['type', 'client.exploded'], ['from', 'yesterday'], ['actor_id', '']] as const) {
    const bad = await api(`/audit-events?${param}=${value}`);
    t.is(bad.status, 400, param);
    t.true(param in (bad.body!.details as object), JSON.stringify(bad.body));
  }
});

// ---------------------------------------------------------------- HTTP edges

async function raw(path: string, init: RequestInit = {}) {
  const response = await fetch(`${server.issuer}/admin/api/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${admin.token}`, ...(init.headers as Record<string, string>) },
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

test('a malformed JSON body is a 400, an oversized one a 413, a form body a 400; all JSON without a stack', async (t) => {
  const malformed = await raw('/users', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email": ' });
  t.is(malformed.status, 400);
  t.like(JSON.parse(malformed.text), { code: 'input.invalid', details: { body: 'is not valid JSON' } });

  const array = await raw('/users', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1]' });
  t.is(array.status, 400);
  t.like(JSON.parse(array.text), { details: { body: 'must be a JSON object' } });

  const huge = await raw('/users', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x'.repeat(200_000) }) });
  t.is(huge.status, 413);
  t.is(JSON.parse(huge.text).code, 'input.too_large');

  const form = await raw('/users', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'email=a%40b.example&password=long+enough+pw' });
  t.is(form.status, 400);
  t.like(JSON.parse(form.text), { details: { 'content-type': 'must be application/json' } });

  for (const response of [malformed, array, huge, form]) {
    t.regex(response.headers.get('content-type') ?? '', /^application\/json/);
    t.is(response.headers.get('cache-control'), 'no-store');
    t.false(response.text.includes('    at '));
  }
});

test('errors are JSON even when a browser asks for HTML', async (t) => {
  const html = { accept: 'text/html' };
  const missing = await raw('/users/00000000-0000-4000-8000-000000000000', { headers: html });
  t.is(missing.status, 404);
  t.regex(missing.headers.get('content-type') ?? '', /^application\/json/);
  t.is(JSON.parse(missing.text).code, 'user.not_found');

  const unknownPath = await raw('/no-such-thing', { headers: html });
  t.is(unknownPath.status, 404);
  t.is(JSON.parse(unknownPath.text).code, 'route.not_found');

  const wrongMethod = await raw('/openapi.json', { method: 'DELETE', headers: html });
  t.is(wrongMethod.status, 405);
  t.is(JSON.parse(wrongMethod.text).code, 'route.method_not_allowed');
  t.is(wrongMethod.headers.get('allow'), 'HEAD, GET');
});

test('list parameters are checked: a bad limit or cursor is a 400 naming it, an unknown one too', async (t) => {
  for (const [query, field] of [['limit=0', 'limit'], ['limit=abc', 'limit'], ['limit=1001', 'limit'], ['limit=2.5', 'limit'], ['cursor=garbage', 'cursor'], ['colour=red', 'colour']] as const) {
    for (const path of ['/clients', '/users', '/resources', '/initial-access-tokens', '/audit-events']) {
      const response = await api(`${path}?${query}`);
      t.is(response.status, 400, `${path}?${query}`);
      t.true(field in (response.body!.details as object), `${path}?${query}: ${JSON.stringify(response.body)}`);
    }
  }
});

test('a client created through the API signs users in', async (t) => {
  const created = await api('/clients', { method: 'POST', body: { client_name: 'Signs in', redirect_uris: [REDIRECT_URI] } });
  const clientId = created.body!.client_id as string;
  const clientSecret = created.body!.client_secret as string;
  const rp: RelyingParty = { config: await discover(server, clientId, clientSecret), clientId, clientSecret, redirectUri: REDIRECT_URI };
  const user = await createTestUser(server);
  const { callback, request } = await signIn(new Browser(), rp, user);
  const tokens = await redeem(rp, callback, request);
  t.is(tokens.claims()?.sub, user.id);
});
