import test from 'ava';
import * as oidc from 'openid-client';
import { createWebhook } from '../../src/domain/webhooks.js';
import { testActor } from '../helpers/actor.js';
import { Browser } from '../helpers/browser.js';
import { authorizationRequest, createTestUser, go, redeem, registerRp, signIn, submitLogin } from '../helpers/rp.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver } from '../helpers/webhook-receiver.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

let server: TestServer;
/** /metrics on a port of its own, behind a bearer token. */
let separate: TestServer;
let metricsPort: number;

test.before(async () => {
  metricsPort = await freePort();
  [server, separate] = await Promise.all([
    startTestServer(),
    startTestServer({ LATCHKEY_METRICS_PORT: String(metricsPort), LATCHKEY_METRICS_TOKEN: METRICS_TOKEN }),
  ]);
});

test.after.always(async () => {
  await Promise.all([server?.dispose(), separate?.dispose()]);
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text format, the samples only. */
function parse(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((label) => [label[1]!, label[2]!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

async function scrape(url: string, token?: string): Promise<Sample[]> {
  const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  if (!response.headers.get('content-type')?.startsWith('text/plain')) throw new Error(`/metrics sent ${response.headers.get('content-type')}`);
  return parse(await response.text());
}

const find = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));

const valueOf = (samples: Sample[], name: string, labels: Record<string, string>) => find(samples, name, labels).reduce((sum, sample) => sum + sample.value, 0);

test('grants, sign-ins and requests are counted by grant type, outcome and route', async (t) => {
  const before = await scrape(`${server.issuer}/metrics`);

  const machine = await registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [] });
  await oidc.clientCredentialsGrant(machine.config);

  const rp = await registerRp(server);
  const user = await createTestUser(server);
  // A wrong password first, on a login page whose interaction id is then looked for in the labels.
  const browser = new Browser();
  const request = await authorizationRequest(rp);
  const login = await go(browser, rp, request.url);
  const interactionId = /\/interaction\/([^/]+)/.exec(login.url.pathname)?.[1];
  t.truthy(interactionId, `the login page is at ${login.url.pathname}`);
  const refused = await submitLogin(browser, rp, login, { email: user.email, password: 'not-the-password' });
  t.is(refused.response.status, 401);
  const { callback, request: signedIn } = await signIn(browser, rp, user);
  await redeem(rp, callback, signedIn);

  const after = await scrape(`${server.issuer}/metrics`);
  const grew = (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
  t.is(grew('latchkey_tokens_issued_total', { grant_type: 'client_credentials' }), 1);
  t.is(grew('latchkey_tokens_issued_total', { grant_type: 'authorization_code' }), 1);
  t.is(grew('latchkey_logins_total', { outcome: 'success' }), 1);
  t.is(grew('latchkey_logins_total', { outcome: 'invalid_credentials' }), 1);
  t.is(grew('latchkey_logins_total', { outcome: 'throttled' }), 0);

  const requests = find(after, 'latchkey_http_request_duration_seconds_count');
  t.true(grew('latchkey_http_request_duration_seconds_count', { route: 'token', method: 'POST', status: '200' }) >= 2);
  t.is(grew('latchkey_http_request_duration_seconds_count', { route: '/interaction/:uid/login', method: 'POST', status: '401' }), 1);
  t.true(grew('latchkey_http_request_duration_seconds_count', { route: 'authorization', method: 'GET' }) >= 2);
  t.true(grew('latchkey_http_request_duration_seconds_count', { route: 'discovery', method: 'GET', status: '200' }) >= 2);
  t.true(find(after, 'latchkey_http_request_duration_seconds_bucket', { route: 'token', le: '+Inf' }).length > 0);
  // Route patterns and the provider's route names only: no identifier from a path.
  const routes = new Set(requests.map((sample) => sample.labels.route!));
  for (const route of routes) {
    t.false(route.includes(interactionId!), `route label ${route}`);
    t.regex(route, /^(\/[\w\-.:/{}*]*|[a-z_.]+)$/, `route label ${route}`);
  }
});

// Alone: users the other tests create would be delivered to this webhook too.
test.serial('webhook delivery attempts are counted by outcome', async (t) => {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const { secret } = await createWebhook(server.deps, testActor, { url: receiver.url, eventTypes: ['user.created'] });
  receiver.secret = secret;
  receiver.respond = () => 500;
  const before = await scrape(`${server.issuer}/metrics`);
  await createTestUser(server);
  await receiver.waitFor(1);
  // The attempt is counted once its outcome is recorded, just after the receiver answered.
  const deadline = Date.now() + 5000;
  let after = await scrape(`${server.issuer}/metrics`);
  while (valueOf(after, 'latchkey_webhook_deliveries_total', { outcome: 'retry' }) === valueOf(before, 'latchkey_webhook_deliveries_total', { outcome: 'retry' }) && Date.now() < deadline) {
    after = await scrape(`${server.issuer}/metrics`);
  }
  const grew = (outcome: string) => valueOf(after, 'latchkey_webhook_deliveries_total', { outcome }) - valueOf(before, 'latchkey_webhook_deliveries_total', { outcome });
  t.is(grew('retry'), 1);
  t.is(grew('success'), 0);
  t.is(grew('failed'), 0);
});

test('pool usage, key ages and the process are there on every scrape', async (t) => {
  const samples = await scrape(`${server.issuer}/metrics`);
  t.is(valueOf(samples, 'latchkey_db_pool_max_connections', { pool: 'main' }) > 0, true);
  t.is(find(samples, 'latchkey_db_pool_connections', { pool: 'main', state: 'used' }).length, 1);
  t.is(find(samples, 'latchkey_db_pool_connections', { pool: 'main', state: 'free' }).length, 1);
  t.is(find(samples, 'latchkey_db_pool_pending_acquires', { pool: 'main' }).length, 1);
  if (server.deps.db.engine === 'postgres') t.is(valueOf(samples, 'latchkey_db_pool_max_connections', { pool: 'direct' }), 2);

  const keys = find(samples, 'latchkey_signing_key_age_seconds', { state: 'active' });
  t.deepEqual(keys.map((sample) => sample.labels.alg).sort(), ['ES256', 'RS256']);
  for (const key of keys) {
    t.truthy(key.labels.kid);
    t.true(key.value >= 0);
  }
  t.true(find(samples, 'latchkey_process_cpu_seconds_total').length === 1);
  t.true(find(samples, 'latchkey_nodejs_heap_size_total_bytes').length === 1);
});

test('with LATCHKEY_METRICS_PORT, /metrics moves to that port and the probes answer on both', async (t) => {
  const main = separate.issuer;
  const side = `http://127.0.0.1:${metricsPort}`;
  const onMain = await fetch(`${main}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  await onMain.body?.cancel();
  t.is(onMain.status, 404);
  for (const base of [main, side]) {
    t.is((await fetch(`${base}/healthz`)).status, 200, `${base}/healthz`);
    const ready = await fetch(`${base}/readyz`);
    t.is(ready.status, 200, `${base}/readyz`);
    t.is(((await ready.json()) as { status: string }).status, 'ready');
  }
  const samples = await scrape(`${side}/metrics`, METRICS_TOKEN);
  // The side port's own requests are measured too.
  t.true(find(samples, 'latchkey_http_request_duration_seconds_count', { route: '/healthz' }).length > 0);
  const elsewhere = await fetch(`${side}/token`, { method: 'POST' });
  await elsewhere.body?.cancel();
  t.is(elsewhere.status, 404);
});

test('with LATCHKEY_METRICS_TOKEN, /metrics wants that bearer token', async (t) => {
  const url = `http://127.0.0.1:${metricsPort}/metrics`;
  for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}`, `Bearer ${METRICS_TOKEN}x`]) {
    const response = await fetch(url, authorization ? { headers: { authorization } } : {});
    t.is(response.status, 401, authorization ?? 'no Authorization');
    t.regex(response.headers.get('www-authenticate') ?? '', /^Bearer /);
    const body = (await response.json()) as { error: string };
    t.is(body.error, 'invalid_token');
  }
  t.true((await scrape(url, METRICS_TOKEN)).length > 0);
});
