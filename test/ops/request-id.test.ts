import { Writable } from 'node:stream';
import test from 'ava';
import { Browser, findForm } from '../helpers/browser.js';
import { createTestUser, registerRp } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** The server's log as JSON lines. */
const logged: Array<Record<string, unknown>> = [];
let partial = '';
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') logged.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});

let server: TestServer;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test.before(async () => {
  // Development: a password reset then logs its email from domain code (no SMTP), inside the request.
  server = await startTestServer({ LATCHKEY_LOG_LEVEL: 'debug', LATCHKEY_ENV: 'development' }, undefined, { logDestination: capture });
});

test.after.always(async () => {
  await server?.dispose();
});

const linesFor = (id: string) => logged.filter((line) => line.requestId === id);
const accessLine = (id: string) => linesFor(id).find((line) => line.msg === 'request');

/** pino writes synchronously, but the access line comes after the response is sent. */
async function accessLineFor(id: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const line = accessLine(id);
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no access log line for ${id}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("a sane X-Request-Id is kept and sent back, on our routes and the provider's", async (t) => {
  for (const [path, id] of [
    ['/healthz', 'lb-7f3a.9c:01_x'],
    ['/.well-known/openid-configuration', 'A'.repeat(128)],
  ] as const) {
    const response = await fetch(`${server.issuer}${path}`, { headers: { 'x-request-id': id } });
    await response.body?.cancel();
    t.is(response.headers.get('x-request-id'), id, path);
    t.is((await accessLineFor(id)).status, 200);
  }
});

test('without an X-Request-Id the server makes one', async (t) => {
  const response = await fetch(`${server.issuer}/healthz`);
  await response.body?.cancel();
  t.regex(response.headers.get('x-request-id') ?? '', UUID);
});

test('an X-Request-Id that is too long or has other characters is replaced', async (t) => {
  for (const id of ['has spaces', 'quote"d', 'line\tbreak', 'ü-umlaut', 'A'.repeat(129), '']) {
    const response = await fetch(`${server.issuer}/healthz`, { headers: { 'x-request-id': id } });
    await response.body?.cancel();
    const answered = response.headers.get('x-request-id') ?? '';
    t.regex(answered, UUID, JSON.stringify(id));
    t.false(logged.some((line) => id !== '' && line.requestId === id), `${JSON.stringify(id)} reached the log`);
  }
});

test("every line logged for a request carries its id: our routes, domain code and the provider's events", async (t) => {
  const user = await createTestUser(server);
  const browser = new Browser();
  const page = await browser.request(`${server.issuer}/password/forgot`);
  const form = findForm(await page.text(), '/password/forgot');
  const resetId = 'reset-request-1';
  const posted = await browser.request(new URL(form.action, `${server.issuer}/password/forgot`), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': resetId },
    body: new URLSearchParams({ ...form.fields, email: user.email }).toString(),
  });
  await posted.body?.cancel();
  t.true(posted.status < 400, `the reset form answered ${posted.status}`);
  await accessLineFor(resetId);
  t.deepEqual(
    linesFor(resetId).map((line) => line.msg),
    ['email held in the outbox (no LATCHKEY_SMTP_URL); its links are logged because this is development', 'request'],
  );

  // The token endpoint: the provider's own event handler logs the grant.
  const machine = await registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [] });
  const tokenId = 'token-request-1';
  const credentials = Buffer.from(`${machine.clientId}:${machine.clientSecret!}`).toString('base64');
  const issued = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${credentials}`, 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': tokenId },
    body: 'grant_type=client_credentials',
  });
  t.is(issued.status, 200);
  await issued.body?.cancel();
  await accessLineFor(tokenId);
  t.deepEqual(
    linesFor(tokenId).map((line) => line.msg),
    ['token issued', 'request'],
  );
  t.like(accessLine(tokenId), { level: 30, method: 'POST', route: 'token', path: '/token', status: 200 });
  // And no such line anywhere without one.
  for (const message of ['token issued', 'request']) {
    t.true(logged.filter((line) => line.msg === message).every((line) => typeof line.requestId === 'string'), message);
  }
});

test("the access log line has the route and the path without its query string or the route's ids", async (t) => {
  const id = 'query-request-1';
  const secret = 'code-that-must-not-be-logged-0123456789';
  const response = await fetch(`${server.issuer}/auth?client_id=no-such-client&code=${secret}`, { headers: { 'x-request-id': id }, redirect: 'manual' });
  await response.body?.cancel();
  const line = await accessLineFor(id);
  t.like(line, { level: 30, method: 'GET', route: 'authorization', path: '/auth', status: response.status });
  t.is(typeof line.durationMs, 'number');
  t.false(JSON.stringify(linesFor(id)).includes(secret));

  const interaction = 'interaction-id-0123456789abc';
  const stale = await fetch(`${server.issuer}/interaction/${interaction}`, { headers: { 'x-request-id': 'stale-interaction-1', accept: 'text/html' } });
  await stale.body?.cancel();
  t.like(await accessLineFor('stale-interaction-1'), { route: '/interaction/:uid', path: '/interaction/:uid' });
  t.false(logged.some((entry) => JSON.stringify(entry).includes(interaction)));
});

test('probes are logged at debug, so they do not flood the log at info', async (t) => {
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const id = `probe${path.replace('/', '-')}`;
    const response = await fetch(`${server.issuer}${path}`, { headers: { 'x-request-id': id } });
    await response.body?.cancel();
    t.like(await accessLineFor(id), { level: 20, route: path, path });
  }
});
