import { randomBytes } from 'node:crypto';
import test from 'ava';
import { linkIdentity } from '../../src/domain/identities.js';
import { updateUser } from '../../src/domain/users.js';
import { testActor } from '../helpers/actor.js';
import { adminClientToken } from '../helpers/admin.js';
import { Browser, findForm, openPage, signInThrough, type Page } from '../helpers/browser.js';
import { createTestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertOneLineError, eventually, json, type Page as ListPage } from '../cli/support.js';
import { homeRealmOf } from '../../src/domain/upstream-providers.js';
import { runCli } from '../helpers/processes.js';

let server: TestServer;
let token: string;

test.before(async () => {
  server = await startTestServer();
  ({ token } = await adminClientToken(server));
});

test.after.always(async () => {
  await server?.dispose();
});

const unique = () => randomBytes(4).toString('hex');

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.issuer}/admin/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, text, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

async function sealedSecret(id: string): Promise<string | null> {
  return (await server.deps.db.knex('upstream_providers').where({ id }).first())?.client_secret_sealed ?? null;
}

test('the admin API creates, lists, changes and deletes providers, and never returns the client secret', async (t) => {
  const id = `google-${unique()}`;
  const secret = `google-secret-${unique()}`;
  const created = await api('POST', '/upstream-providers', { id, kind: 'google', client_id: 'abc.apps.googleusercontent.com', client_secret: secret, email_domains: [`${id}.example`] });
  t.is(created.status, 201, created.text);
  t.like(created.body, {
    id,
    kind: 'google',
    name: 'Google',
    issuer: 'https://accounts.google.com',
    client_id: 'abc.apps.googleusercontent.com',
    client_secret_set: true,
    scopes: ['openid', 'email', 'profile'],
    email_domains: [`${id}.example`],
    enabled: true,
    redirect_uri: `${server.issuer}/upstream/${id}/callback`,
  });
  t.false(created.text.includes(secret));
  const sealed = await sealedSecret(id);
  t.truthy(sealed);
  t.false(sealed!.includes(secret), 'sealed at rest');

  const listed = await api('GET', '/upstream-providers');
  t.is(listed.status, 200);
  t.truthy(listed.body!.items.find((item: { id: string }) => item.id === id));
  t.false(listed.text.includes(secret));
  t.deepEqual((await api('GET', `/upstream-providers/${id}`)).body, created.body);

  const patched = await api('PATCH', `/upstream-providers/${id}`, { name: 'Google Workspace', enabled: false, client_secret: 'rotated-secret' });
  t.is(patched.status, 200, patched.text);
  t.like(patched.body, { name: 'Google Workspace', enabled: false });
  t.false(patched.text.includes('rotated-secret'));
  t.not(await sealedSecret(id), sealed, 'the new secret is stored');

  const audit = await server.deps.db.knex('audit_events').where({ subject_id: id }).orderBy('id');
  t.deepEqual(audit.map((row: { type: string }) => row.type), ['upstream_provider.created', 'upstream_provider.updated']);
  t.deepEqual(audit[1].details.changed, ['name', 'client_secret', 'enabled']);

  t.is((await api('DELETE', `/upstream-providers/${id}`)).status, 204);
  const gone = await api('GET', `/upstream-providers/${id}`);
  t.is(gone.status, 404);
  t.is(gone.body!.code, 'upstream_provider.not_found');

  const openapi = await api('GET', '/openapi.json');
  t.truthy(openapi.body!.paths['/upstream-providers/{id}'].patch);
});

test('the admin API refuses bad providers, naming the field', async (t) => {
  const base = { client_id: 'c', client_secret: 's' };
  const bad = async (body: Record<string, unknown>, field: string, status = 400) => {
    const answer = await api('POST', '/upstream-providers', { ...base, ...body });
    t.is(answer.status, status, answer.text);
    t.truthy(answer.body!.details?.[field], `${answer.text} should name ${field}`);
    return answer;
  };
  await bad({ id: 'Not A Slug', kind: 'google' }, 'id');
  await bad({ id: `x-${unique()}`, kind: 'oidc' }, 'issuer');
  await bad({ id: `x-${unique()}`, kind: 'oidc', issuer: 'ftp://idp.example' }, 'issuer');
  await bad({ id: `x-${unique()}`, kind: 'oidc', name: 'Corp', issuer: 'https://idp.example', scopes: 'email profile' }, 'scopes');
  await bad({ id: `x-${unique()}`, kind: 'google', issuer: 'https://evil.example' }, 'issuer');
  await bad({ id: `x-${unique()}`, kind: 'microsoft' }, 'tenant');
  await bad({ id: `x-${unique()}`, kind: 'microsoft', tenant: 'common' }, 'tenant');
  await bad({ id: `x-${unique()}`, kind: 'saml' }, 'kind');
  await bad({ id: `x-${unique()}`, kind: 'google', client_secret: undefined }, 'client_secret');
  await bad({ id: `x-${unique()}`, kind: 'google', email_domains: ['not a domain'] }, 'email_domains');

  const id = `corp-${unique()}`;
  t.is((await api('POST', '/upstream-providers', { ...base, id, kind: 'microsoft', tenant: 'contoso.onmicrosoft.com', email_domains: `${id}.example` })).status, 201);
  t.is((await api('GET', `/upstream-providers/${id}`)).body!.issuer, 'https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0');
  await bad({ id, kind: 'google' }, 'id', 409);
  const taken = await bad({ id: `other-${unique()}`, kind: 'google', email_domains: [`${id}.example`] }, 'email_domains', 409);
  t.is(taken.body!.code, 'upstream_provider.domain_taken');
  const patched = await api('PATCH', `/upstream-providers/${id}`, { issuer: 'https://other.example' });
  t.is(patched.status, 400);
  t.truthy(patched.body!.details.issuer);
  t.is((await api('PATCH', `/upstream-providers/${id}`, { secret: 'x' })).status, 400);
});

test('the CLI creates, lists, updates and deletes providers; the secret is never printed', async (t) => {
  // The redirect URI is built from the CLI's own ISSUER, which an operator sets as the server's.
  const cli = (args: string[]) => runCli(args, { ...server.database.env, ISSUER: server.issuer });
  const id = `gh-${unique()}`;
  const created = json(t, await cli(['upstream-providers', 'create', '--id', id, '--preset', 'github', '--client-id', 'Iv1.abc', '--client-secret', 'cli-secret-value', '--json']));
  t.like(created, { id, kind: 'github', name: 'GitHub', github_url: 'https://github.com', github_api_url: 'https://api.github.com', redirect_uri: `${server.issuer}/upstream/${id}/callback` });
  t.false(JSON.stringify(created).includes('cli-secret-value'));
  const human = await cli(['upstream-providers', 'create', '--id', `${id}-2`, '--preset', 'oidc', '--name', 'Corp', '--issuer', 'https://idp.example', '--client-id', 'c', '--client-secret', 'cli-secret-value', '--email-domains', `${id}.example`]);
  t.is(human.code, 0, human.stderr);
  t.false(human.stdout.includes('cli-secret-value'));
  t.true(human.stderr.includes(`/upstream/${id}-2/callback`), 'the redirect URI to register is pointed out');
  // The running server keeps the login page's providers in memory: the CLI's change reaches it,
  // and its home-realm discovery sends the new domain there.
  t.true(await eventually(async () => (await homeRealmOf(server.deps, `ann@${id}.example`))?.id === `${id}-2`));

  const listed = json<ListPage>(t, await cli(['upstream-providers', 'list', '--json']));
  t.truthy(listed.items.find((item) => item.id === id));
  t.deepEqual(json(t, await cli(['upstream-providers', 'get', id, '--json'])), created);
  const updated = json(t, await cli(['upstream-providers', 'update', id, '--disable', '--github-url', 'https://ghe.example', '--github-api-url', 'https://ghe.example/api/v3', '--json']));
  t.like(updated, { enabled: false, github_url: 'https://ghe.example', github_api_url: 'https://ghe.example/api/v3' });

  assertOneLineError(t, await cli(['upstream-providers', 'create', '--id', `x-${unique()}`, '--preset', 'google', '--client-secret', 's']), '--client-id');
  assertOneLineError(t, await cli(['upstream-providers', 'create', '--id', `x-${unique()}`, '--preset', 'microsoft', '--client-id', 'c', '--client-secret', 's']), '--tenant');
  assertOneLineError(t, await cli(['upstream-providers', 'create', '--id', `x-${unique()}`, '--preset', 'okta', '--client-id', 'c', '--client-secret', 's']), '--preset');
  assertOneLineError(t, await cli(['upstream-providers', 'update', id]), 'nothing to change');
  assertOneLineError(t, await cli(['upstream-providers', 'update', id, '--issuer', 'https://x.example']), '--issuer');

  t.deepEqual(json(t, await cli(['upstream-providers', 'delete', id, '--json'])), { id, deleted: true });
  assertOneLineError(t, await cli(['upstream-providers', 'get', id]), id);
});

async function post(browser: Browser, page: Page, action: string, fields: Record<string, string>): Promise<Page> {
  const form = findForm(page.html, action);
  const response = await browser.post(new URL(form.action, page.url), { _csrf: form.fields._csrf!, ...fields });
  return { url: page.url, status: response.status, html: await response.text(), headers: response.headers };
}

test('the console lists, creates, edits and deletes providers', async (t) => {
  const admin = await createTestUser(server);
  await updateUser(server.deps, testActor, admin.id, { isAdmin: true });
  const browser = new Browser();
  await signInThrough(browser, `${server.issuer}/admin`, admin);
  const open = (path: string) => openPage(browser, `${server.issuer}${path}`);

  const list = await open('/admin/upstream-providers');
  t.is(list.status, 200);
  t.true(list.html.includes('Sign-in providers'));
  const form = await open('/admin/upstream-providers/new?preset=github');
  t.regex(form.html, /<option value="github" selected>/);

  const refused = await post(browser, form, '/admin/upstream-providers', { kind: 'oidc', id: 'console-oidc', clientId: 'c', clientSecret: 's' });
  t.is(refused.status, 400);
  t.regex(refused.html, /id="issuer-error"[^>]*>is required/);
  t.falsy(await server.deps.db.knex('upstream_providers').where({ id: 'console-oidc' }).first());

  const id = `console-${unique()}`;
  const created = await post(browser, form, '/admin/upstream-providers', { kind: 'google', id, clientId: 'google-client', clientSecret: 'console-secret', emailDomains: `${id}.example, Other-${id}.example`, enabled: 'on' });
  t.is(created.status, 303);
  const edit = await open(created.headers.get('location')!);
  t.is(edit.status, 200);
  t.true(edit.html.includes(`${server.issuer}/upstream/${id}/callback`), 'the redirect URI to register');
  t.false(edit.html.includes('console-secret'));
  t.true(edit.html.includes(`other-${id}.example`));
  const sealed = await sealedSecret(id);

  const saved = await post(browser, edit, `/admin/upstream-providers/${id}`, { name: 'Workspace', clientId: 'google-client', clientSecret: '', scopes: 'openid email', emailDomains: '' });
  t.is(saved.status, 303);
  const row = await server.deps.db.knex('upstream_providers').where({ id }).first();
  t.is(row.display_name, 'Workspace');
  t.false(row.enabled, 'the unchecked box switches it off');
  t.deepEqual(row.email_domains, []);
  t.is(row.client_secret_sealed, sealed, 'an empty secret field keeps the secret');

  const confirm = await open(`/admin/upstream-providers/${id}/delete`);
  t.true(confirm.html.includes('Workspace'));
  // A user page lists the accounts linked to the user.
  const person = await createTestUser(server);
  await linkIdentity(server.deps, testActor, { providerId: id, subject: 'sub-1', userId: person.id, email: 'person@workspace.example' });
  const userPage = await open(`/admin/users/${person.id}`);
  t.true(userPage.html.includes('Linked accounts'));
  t.true(userPage.html.includes('person@workspace.example'));

  const deleted = await post(browser, confirm, `/admin/upstream-providers/${id}/delete`, {});
  t.is(deleted.status, 303);
  t.falsy(await server.deps.db.knex('upstream_providers').where({ id }).first());
  t.is(await server.deps.db.knex('upstream_identities').where({ user_id: person.id }).first(), undefined, 'its identities go with it');
});

test('a provider with linked accounts cannot be pointed at another server; its other settings still change', async (t) => {
  const id = `moved-${unique()}`;
  const created = await api('POST', '/upstream-providers', { id, kind: 'oidc', name: 'Corp', issuer: 'https://idp.example', client_id: 'latchkey', client_secret: 'upstream-secret' });
  t.is(created.status, 201, created.text);
  // Before anyone links, the admin may still correct the address.
  t.is((await api('PATCH', `/upstream-providers/${id}`, { issuer: 'https://idp2.example' })).status, 200);
  const user = await createTestUser(server);
  await linkIdentity(server.deps, testActor, { providerId: id, subject: '42', userId: user.id, email: user.email });

  const moved = await api('PATCH', `/upstream-providers/${id}`, { issuer: 'https://other.example' });
  t.is(moved.status, 400);
  t.truthy(moved.body?.details?.issuer, moved.text);
  t.is((await api('GET', `/upstream-providers/${id}`)).body?.issuer, 'https://idp2.example');
  t.is((await api('PATCH', `/upstream-providers/${id}`, { name: 'Corp SSO' })).status, 200);
});
