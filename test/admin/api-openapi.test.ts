import test from 'ava';
import { adminApiRouter, UNMATCHED } from '../../src/admin/api/router.js';
import { adminClientToken, adminFetch } from '../helpers/admin.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

interface Document {
  openapi: string;
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, { security?: unknown[]; parameters: Array<{ name: string; in: string }>; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>>;
  components: { securitySchemes: Record<string, { type: string; scheme: string }> };
  security: unknown[];
}

async function fetchDocument(): Promise<Document> {
  const response = await fetch(`${server.issuer}/admin/api/v1/openapi.json`);
  if (response.status !== 200) throw new Error(`openapi.json answered ${response.status}`);
  return (await response.json()) as Document;
}

test('the document is public OpenAPI 3.1 with the bearer scheme', async (t) => {
  const response = await fetch(`${server.issuer}/admin/api/v1/openapi.json`);
  t.is(response.status, 200);
  t.is(response.headers.get('cache-control'), 'no-store');
  const document = (await response.json()) as Document;
  t.is(document.openapi, '3.1.0');
  t.is(document.servers[0]!.url, `${server.issuer}/admin/api/v1`);
  t.like(document.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' });
  t.deepEqual(document.security, [{ bearer: [] }]);
  t.deepEqual(document.paths['/openapi.json']!.get!.security, []);
});

test('every route the router serves is in the document, and nothing else', async (t) => {
  const router = adminApiRouter(server.deps, () => {
    throw new Error('building the router must not need the provider');
  });
  const served = new Set<string>();
  for (const layer of router.stack) {
    if (layer.name === UNMATCHED) continue;
    const path = String(layer.path).replace(/^\/admin\/api\/v1/, '').replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    for (const method of layer.methods) if (method !== 'HEAD') served.add(`${method.toLowerCase()} ${path}`);
  }
  const document = await fetchDocument();
  const documented = new Set(Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`)));
  t.true(served.size >= 26, String(served.size)); // a guard that the layers were read at all
  t.deepEqual([...served].filter((route) => !documented.has(route)), [], 'served but not documented');
  t.deepEqual([...documented].filter((route) => !served.has(route)), [], 'documented but not served');
});

test('path parameters match the path and request bodies come from the validating schemas', async (t) => {
  const document = await fetchDocument();
  for (const [path, operations] of Object.entries(document.paths)) {
    const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
    for (const [method, operation] of Object.entries(operations)) {
      const declared = operation.parameters.filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name);
      t.deepEqual(declared, inPath, `${method} ${path}`);
    }
  }
  const createClient = document.paths['/clients']!.post!.requestBody!.content['application/json']!.schema as {
    properties: Record<string, unknown>;
    required: string[];
    additionalProperties: boolean;
  };
  t.true('redirect_uris' in createClient.properties);
  t.true('client_name' in createClient.properties);
  t.deepEqual(createClient.required, ['client_name']);
  t.false(createClient.additionalProperties);
  const listUsers = document.paths['/users']!.get!.parameters.map((parameter) => `${parameter.in}:${parameter.name}`);
  t.deepEqual(listUsers.sort(), ['query:cursor', 'query:email', 'query:limit']);
});

test('what the document says a body may not hold, the API refuses', async (t) => {
  const document = await fetchDocument();
  const { token } = await adminClientToken(server);
  const patchUser = document.paths['/users/{id}']!.patch!.requestBody!.content['application/json']!.schema as { properties: Record<string, unknown> };
  t.false('password' in patchUser.properties);
  const user = await adminFetch(server, token, '/users', { method: 'POST', body: { email: 'doc@example.com', password: 'long enough pw' } });
  const response = await adminFetch(server, token, `/users/${user.body!.id as string}`, { method: 'PATCH', body: { password: 'another long pw' } });
  t.is(response.status, 400);
  t.deepEqual(response.body!.details, { password: 'is not a known field' });
});
