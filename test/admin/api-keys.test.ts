import test from 'ava';
import { adminClientToken, adminFetch } from '../helpers/admin.js';
import type { RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let admin: { rp: RelyingParty; token: string };

test.before(async () => {
  server = await startTestServer({ LATCHKEY_KEY_ACTIVATION_DELAY: '15m' });
  admin = await adminClientToken(server);
});

test.after.always(async () => {
  await server?.dispose();
});

interface KeyJson {
  kid: string;
  alg: string;
  state: string;
  created_at: string;
  activates_at: string;
  superseded_at: string | null;
  retires_at: string | null;
  age_seconds: number;
}

const api = (path: string, init: { method?: string; body?: unknown } = {}) => adminFetch(server, admin.token, path, init);
const listed = async () => (await api('/keys')).body!.items as KeyJson[];
const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;
/** The key activates `delay` seconds after a moment between the request and its answer. */
const activatesWithin = (key: KeyJson, sent: number, answered: number, delay: number) =>
  Date.parse(key.activates_at) >= sent + delay * 1000 && Date.parse(key.activates_at) <= answered + delay * 1000;

// Serial: each test rotates the same server's keys and reads the result.

test.serial('GET /keys lists each key with its state and age, and never key material', async (t) => {
  const response = await api('/keys');
  t.is(response.status, 200);
  t.is(response.headers.get('cache-control'), 'no-store');
  t.is(response.body!.next_cursor, null);
  const keys = response.body!.items as KeyJson[];
  t.deepEqual(keys.map((key) => [key.alg, key.state]).sort(), [
    ['ES256', 'active'],
    ['RS256', 'active'],
  ]);
  for (const key of keys) {
    t.deepEqual(Object.keys(key).sort(), ['activates_at', 'age_seconds', 'alg', 'created_at', 'kid', 'retires_at', 'state', 'superseded_at']);
    t.true(Number.isInteger(key.age_seconds) && key.age_seconds >= 0);
    t.is(key.superseded_at, null);
  }
});

test.serial('POST /keys/rotate rotates the algorithms asked for after the delay asked for, and the audit log names who did it', async (t) => {
  const activeEs = (await listed()).find((key) => key.alg === 'ES256' && key.state === 'active')!;
  const sent = Date.now();
  const response = await api('/keys/rotate', { method: 'POST', body: { algs: ['ES256'], activation_delay: 600 } });
  const answered = Date.now();
  t.is(response.status, 201, JSON.stringify(response.body));
  const rotated = response.body!.rotated as KeyJson[];
  t.is(rotated.length, 1);
  const fresh = rotated[0]!;
  t.like(fresh, { alg: 'ES256', state: 'pending', superseded_at: null, retires_at: null });
  t.true(activatesWithin(fresh, sent, answered, 600), fresh.activates_at);

  const keys = await listed();
  t.is(keys.filter((key) => key.alg === 'RS256').length, 1, 'RS256 was not rotated');
  const old = keys.find((key) => key.kid === activeEs.kid)!;
  t.like(old, { state: 'active', superseded_at: fresh.activates_at });
  // Default token lifetimes: one hour for ID and access tokens, plus a minute of clock margin.
  t.is(seconds(old.superseded_at!, old.retires_at!), 3600 + 60);

  const published = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
  const deadline = Date.now() + 10_000;
  let kids = published.keys.map((key) => key.kid);
  while (!kids.includes(fresh.kid) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    kids = ((await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid);
  }
  t.true(kids.includes(fresh.kid), 'the pending key is published');

  const audit = await api('/audit-events?type=keys.rotated');
  const [event] = audit.body!.items as Array<{ actor: { type: string; id: string }; details: Record<string, unknown> }>;
  t.like(event, { actor: { type: 'client', id: admin.rp.clientId } });
  t.deepEqual(event!.details.kids, [fresh.kid]);
  t.deepEqual(event!.details.superseded, [activeEs.kid]);
  t.is(event!.details.activation_delay, 600);
});

test.serial('POST /keys/rotate without a body rotates every algorithm after the configured delay', async (t) => {
  const sent = Date.now();
  const response = await api('/keys/rotate', { method: 'POST' });
  const answered = Date.now();
  t.is(response.status, 201, JSON.stringify(response.body));
  const rotated = response.body!.rotated as KeyJson[];
  t.deepEqual(rotated.map((key) => key.alg).sort(), ['ES256', 'RS256']);
  for (const key of rotated) {
    t.is(key.state, 'pending');
    t.true(activatesWithin(key, sent, answered, 900), `${key.activates_at}: LATCHKEY_KEY_ACTIVATION_DELAY=15m`);
  }
});

test.serial('bad rotation requests are refused with the field named, and nothing rotates', async (t) => {
  const before = (await listed()).length;
  const cases: Array<[unknown, string, RegExp]> = [
    [{ algs: ['HS256'] }, 'algs.0', /ES256 or RS256/],
    [{ algs: 'ES256' }, 'algs', /array/],
    [{ algs: [] }, 'algs', /at least one/],
    [{ activation_delay: -1 }, 'activation_delay', /negative/],
    [{ activation_delay: 1.5 }, 'activation_delay', /whole/],
    [{ activation_delay: '15m' }, 'activation_delay', /number/],
    [{ activation_delay: 400 * 86400 }, 'activation_delay', /at most 365 days/],
    [{ delay: 5 }, 'delay', /not a known field/],
  ];
  for (const [body, field, problem] of cases) {
    const response = await api('/keys/rotate', { method: 'POST', body });
    t.is(response.status, 400, JSON.stringify(body));
    t.is(response.body!.error, 'invalid_request');
    const details = response.body!.details as Record<string, string>;
    t.regex(details[field] ?? '', problem, `${JSON.stringify(body)}: ${JSON.stringify(details)}`);
  }
  const anonymous = await adminFetch(server, undefined, '/keys/rotate', { method: 'POST', body: {} });
  t.is(anonymous.status, 401);
  t.is((await adminFetch(server, undefined, '/keys')).status, 401);
  t.is((await listed()).length, before);
});
