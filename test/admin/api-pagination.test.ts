import { randomBytes } from 'node:crypto';
import test from 'ava';
import { adminClientToken, adminFetch } from '../helpers/admin.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let token: string;

test.before(async () => {
  server = await startTestServer();
  token = (await adminClientToken(server)).token;
});

test.after.always(async () => {
  await server?.dispose();
});

/** Follows next_cursor from the first page to the last, two at a time. */
async function walk(path: string, key: string): Promise<{ seen: string[]; pages: number }> {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const response = await adminFetch(server, token, `${path}${separator}limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (response.status !== 200) throw new Error(`${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
    const items = response.body!.items as Array<Record<string, string>>;
    if (items.length > 2) throw new Error(`a page of ${items.length} items with limit=2`);
    seen.push(...items.map((item) => item[key]!));
    cursor = response.body!.next_cursor as string | null;
    pages += 1;
  } while (cursor !== null && pages < 50);
  return { seen, pages };
}

const tag = randomBytes(4).toString('hex');

test.serial('users: limit=2 pages visit every match once, in order', async (t) => {
  const created: string[] = [];
  for (let index = 0; index < 5; index += 1) {
    const response = await adminFetch(server, token, '/users', { method: 'POST', body: { email: `page-${tag}-${index}@example.com`, password: 'long enough pw' } });
    created.push(response.body!.id as string);
  }
  const { seen, pages } = await walk(`/users?email=page-${tag}`, 'id');
  t.deepEqual(seen, created);
  t.is(pages, 3);
});

test.serial('clients, resources and initial access tokens page the same way', async (t) => {
  const clients: string[] = [];
  const resources: string[] = [];
  const tokens: string[] = [];
  for (let index = 0; index < 4; index += 1) {
    const client = await adminFetch(server, token, '/clients', { method: 'POST', body: { client_name: `Paged ${tag} ${index}`, grant_types: ['client_credentials'] } });
    clients.push(client.body!.client_id as string);
    const identifier = `https://paged-${tag}-${index}.example/api`;
    t.is((await adminFetch(server, token, '/resources', { method: 'POST', body: { identifier, scope: 'read' } })).status, 201);
    resources.push(identifier);
    const iat = await adminFetch(server, token, '/initial-access-tokens', { method: 'POST', body: {} });
    tokens.push(iat.body!.id as string);
  }
  t.deepEqual((await walk(`/clients?name=paged%20${tag}`, 'client_id')).seen, clients);

  const allResources = (await walk('/resources', 'identifier')).seen;
  t.is(new Set(allResources).size, allResources.length);
  t.deepEqual(allResources.filter((identifier) => identifier.includes(tag)), resources.sort());

  const allTokens = (await walk('/initial-access-tokens', 'id')).seen;
  t.is(new Set(allTokens).size, allTokens.length);
  t.deepEqual(allTokens.filter((id) => tokens.includes(id)), tokens);
});

test.serial('audit events page newest first without duplicates', async (t) => {
  const { seen } = await walk('/audit-events', 'id');
  t.true(seen.length >= 5);
  t.is(new Set(seen).size, seen.length);
  const numbers = seen.map(Number);
  t.deepEqual(numbers, [...numbers].sort((a, b) => b - a));
});

test.serial('a cursor that this list did not give out is a 400 naming cursor', async (t) => {
  const users = await adminFetch(server, token, '/users?limit=1');
  const userCursor = users.body!.next_cursor as string;
  t.is(typeof userCursor, 'string');
  for (const cursor of ['garbage', Buffer.from('{"createdAt":"x"}').toString('base64url')]) {
    const response = await adminFetch(server, token, `/users?cursor=${cursor}`);
    t.is(response.status, 400);
    t.deepEqual(Object.keys(response.body!.details as object), ['cursor']);
  }
  // A users cursor is no audit cursor.
  const audit = await adminFetch(server, token, `/audit-events?cursor=${userCursor}`);
  t.is(audit.status, 400);
  t.true('cursor' in (audit.body!.details as object));
});
