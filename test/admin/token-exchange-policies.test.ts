import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { TOKEN_EXCHANGE_GRANT } from '../../src/domain/clients.js';
import { createResource } from '../../src/domain/resources.js';
import { listTokenExchangePolicies } from '../../src/domain/token-exchange.js';
import { updateUser } from '../../src/domain/users.js';
import { testActor } from '../helpers/actor.js';
import { adminClientToken, adminFetch } from '../helpers/admin.js';
import { Browser, findForm, openPage, signInThrough, type Page } from '../helpers/browser.js';
import { createTestUser, registerRp } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let token: string;

test.before(async () => {
  server = await startTestServer();
  ({ token } = await adminClientToken(server));
});

test.after.always(async () => {
  await server?.dispose();
});

const api = (path: string, init: { method?: string; body?: unknown } = {}) => adminFetch(server, token, path, init);
const MISSING_ID = '00000000-0000-4000-8000-000000000000';

async function apiResource(scopes = ['read', 'write']): Promise<string> {
  const identifier = `https://api-${randomBytes(4).toString('hex')}.example/`;
  await createResource(server.deps, testActor, { identifier, scopes });
  return identifier;
}

async function exchanger(): Promise<string> {
  const rp = await registerRp(server, { name: 'Service', grantTypes: [TOKEN_EXCHANGE_GRANT], redirectUris: [], postLogoutRedirectUris: [] });
  return rp.clientId;
}

async function auditTypes(subjectId: string): Promise<string[]> {
  const events = await api(`/audit-events?${new URLSearchParams({ subject_id: subjectId }).toString()}`);
  return (events.body!.items as Array<{ type: string }>).map((event) => event.type).reverse();
}

test('the admin API creates, lists, reads and deletes token exchange policies, audited', async (t) => {
  const [subject, target, clientId] = await Promise.all([apiResource(), apiResource(['read', 'write', 'admin']), exchanger()]);
  const created = await api('/token-exchange-policies', {
    method: 'POST',
    body: { client_id: clientId, subject_audience: subject, target_audience: target, scope: 'read write read' },
  });
  t.is(created.status, 201, JSON.stringify(created.body));
  const policy = created.body!;
  t.like(policy, { client_id: clientId, subject_audience: subject, target_audience: target, scope: 'read write' });
  const id = policy.id as string;

  t.deepEqual((await api(`/token-exchange-policies/${id}`)).body, policy);
  const listed = await api(`/token-exchange-policies?${new URLSearchParams({ client_id: clientId }).toString()}`);
  t.deepEqual(listed.body, { items: [policy], next_cursor: null });
  const others = await api(`/token-exchange-policies?${new URLSearchParams({ client_id: 'someone-else' }).toString()}`);
  t.deepEqual(others.body, { items: [], next_cursor: null });

  // One policy per client and pair of APIs.
  const again = await api('/token-exchange-policies', { method: 'POST', body: { client_id: clientId, subject_audience: subject, target_audience: target, scope: ['read'] } });
  t.is(again.status, 409);

  t.is((await api(`/token-exchange-policies/${id}`, { method: 'DELETE' })).status, 204);
  t.is((await api(`/token-exchange-policies/${id}`)).status, 404);
  t.is((await api(`/token-exchange-policies/${id}`, { method: 'DELETE' })).status, 404);
  t.deepEqual(await auditTypes(id), ['token_exchange_policy.created', 'token_exchange_policy.deleted']);
});

test('the admin API refuses bad policies, naming the field', async (t) => {
  const [subject, target, clientId] = await Promise.all([apiResource(), apiResource(['read']), exchanger()]);
  const create = (body: Record<string, unknown>) => api('/token-exchange-policies', { method: 'POST', body: { client_id: clientId, subject_audience: subject, target_audience: target, scope: 'read', ...body } });

  const cases: Array<[Record<string, unknown>, number, string, RegExp]> = [
    [{ client_id: 'nobody' }, 404, 'client_id', /not a registered client/],
    [{ subject_audience: 'https://nowhere.example/' }, 404, 'subject_audience', /not a registered resource/],
    [{ target_audience: 'https://nowhere.example/' }, 404, 'target_audience', /not a registered resource/],
    [{ target_audience: 'not a uri' }, 400, 'target_audience', /absolute https URI/],
    [{ scope: 'write' }, 400, 'scope', /not a scope of the target API/],
    [{ scope: '' }, 400, 'scope', /at least one scope/],
    [{ scope: 'openid' }, 400, 'scope', /OpenID Connect scope/],
    [{ scope: 42 }, 400, 'scope', /space-separated string/],
    [{ extra: true }, 400, 'extra', /./],
  ];
  for (const [change, status, field, message] of cases) {
    const answer = await create(change);
    t.is(answer.status, status, JSON.stringify(change));
    const details = answer.body!.details as Record<string, string> | undefined;
    t.regex(details?.[field] ?? '', message, `${JSON.stringify(change)}: ${JSON.stringify(answer.body)}`);
  }
  t.is((await api(`/token-exchange-policies/${MISSING_ID}`)).status, 404);
  t.is((await api('/token-exchange-policies/not-a-uuid')).status, 404);
  t.is((await api('/token-exchange-policies?limit=0')).status, 400);
  t.deepEqual((await listTokenExchangePolicies(server.deps, { clientId })).items, []);
});

test('deleting the client or either API deletes its policies', async (t) => {
  const [subject, target, clientId] = await Promise.all([apiResource(), apiResource(['read']), exchanger()]);
  const body = { client_id: clientId, subject_audience: subject, target_audience: target, scope: 'read' };
  const id = (await api('/token-exchange-policies', { method: 'POST', body })).body!.id as string;
  t.is((await api(`/resources/${encodeURIComponent(target)}`, { method: 'DELETE' })).status, 204);
  t.is((await api(`/token-exchange-policies/${id}`)).status, 404);

  const other = await apiResource(['read']);
  const second = (await api('/token-exchange-policies', { method: 'POST', body: { ...body, target_audience: other } })).body!.id as string;
  t.is((await api(`/clients/${clientId}`, { method: 'DELETE' })).status, 204);
  t.is((await api(`/token-exchange-policies/${second}`)).status, 404);
});

test('the OpenAPI document describes the token exchange policy operations', async (t) => {
  const document = (await api('/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
  t.deepEqual(Object.keys(document.paths['/token-exchange-policies'] ?? {}).sort(), ['get', 'post']);
  t.deepEqual(Object.keys(document.paths['/token-exchange-policies/{id}'] ?? {}).sort(), ['delete', 'get']);
});

// ---- the console ----

async function consoleAdmin(languages?: string): Promise<Browser> {
  const user = await createTestUser(server);
  await updateUser(server.deps, testActor, user.id, { isAdmin: true });
  const browser = new Browser(fetch, languages);
  await signInThrough(browser, `${server.issuer}/admin`, user);
  return browser;
}

const open = (browser: Browser, path: string) => openPage(browser, `${server.issuer}${path}`);

async function submit(browser: Browser, page: Page, action: string, fields: Record<string, string> = {}): Promise<Page> {
  const form = findForm(page.html, action);
  const url = new URL(form.action, page.url).href;
  const response = await browser.request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: form.fields._csrf!, ...fields }).toString(),
  });
  return { url: new URL(url), status: response.status, html: await response.text(), headers: response.headers };
}

async function after(t: ExecutionContext, browser: Browser, answer: Page): Promise<Page> {
  t.is(answer.status, 303, answer.html);
  return open(browser, answer.headers.get('location')!);
}

test('the console lists, creates and deletes policies, and shows what was wrong with a bad one', async (t) => {
  const [subject, target, clientId] = await Promise.all([apiResource(), apiResource(['read', 'write']), exchanger()]);
  const browser = await consoleAdmin();

  const list = await open(browser, '/admin/token-exchange');
  t.is(list.status, 200);
  t.true(list.html.includes('href="/admin/token-exchange"'), 'the section is in the navigation');

  const form = await open(browser, '/admin/token-exchange/new');
  t.true(form.html.includes(`value="${subject}"`), 'the APIs are offered');
  const fields = { clientId, subjectAudience: subject, targetAudience: target, scopes: 'read admin' };
  const refused = await submit(browser, form, '/admin/token-exchange', fields);
  t.is(refused.status, 400);
  t.true(refused.html.includes('admin is not a scope of the target API'), refused.html);
  // What the admin typed is kept.
  t.true(refused.html.includes(`value="${clientId}"`));

  const created = await after(t, browser, await submit(browser, refused, '/admin/token-exchange', { ...fields, scopes: 'read' }));
  t.true(created.html.includes(`<span translate="no">${clientId}</span> may now exchange tokens for <span translate="no">${target}</span>.`), created.html);
  const [policy] = (await listTokenExchangePolicies(server.deps, { clientId })).items;
  t.deepEqual(policy?.scopes, ['read']);
  t.true(created.html.includes(`/admin/token-exchange/${policy!.id}/delete`));

  const confirm = await open(browser, `/admin/token-exchange/${policy!.id}/delete`);
  t.is(confirm.status, 200);
  const deleted = await after(t, browser, await submit(browser, confirm, `/admin/token-exchange/${policy!.id}/delete`));
  t.true(deleted.html.includes('The policy was deleted.'));
  t.deepEqual((await listTokenExchangePolicies(server.deps, { clientId })).items, []);
  t.is((await open(browser, `/admin/token-exchange/${policy!.id}/delete`)).status, 404);
});

test('the console pages of token exchange are in German for a German admin', async (t) => {
  const [subject, target, clientId] = await Promise.all([apiResource(), apiResource(['read']), exchanger()]);
  const browser = await consoleAdmin('de');
  const form = await open(browser, '/admin/token-exchange/new');
  t.true(form.html.includes('Neue Richtlinie'));
  const refused = await submit(browser, form, '/admin/token-exchange', { clientId: 'nobody', subjectAudience: subject, targetAudience: target, scopes: 'read' });
  t.is(refused.status, 404);
  t.true(refused.html.includes('ist kein registrierter Client') || refused.html.includes('nobody'), refused.html);
  const created = await after(t, browser, await submit(browser, refused, '/admin/token-exchange', { clientId, subjectAudience: subject, targetAudience: target, scopes: 'read' }));
  t.true(created.html.includes('darf jetzt Tokens'), created.html);
  t.true(created.html.includes('Token-Austausch'));
  t.false(/New policy|Token exchange|may now exchange/.test(created.html));
});
