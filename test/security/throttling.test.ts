import { randomBytes } from 'node:crypto';
import test from 'ava';
import { listAuditEvents } from '../../src/domain/audit.js';
import { Browser, findForm } from '../helpers/browser.js';
import { advanceClock, resetClock } from '../helpers/clock.js';
import { engine } from '../helpers/engines.js';
import { authorizationRequest, createTestUser, go, registerRp, type RelyingParty, type Step } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Three failures per address (or client) and five per network address; the first wait is 30s.
const limits = { LATCHKEY_THROTTLE_FAILURES: '3', LATCHKEY_THROTTLE_IP_FAILURES: '5' };

/** Behind a proxy: each test signs in from addresses of its own, so their counts do not mix. */
let server: TestServer;
/** Not behind a proxy: X-Forwarded-For is the client's to invent, so it must not count. */
let direct: TestServer;
let rp: RelyingParty;

test.before(async () => {
  [server, direct] = await Promise.all([
    startTestServer({ ...limits, LATCHKEY_TRUST_PROXY: 'true' }),
    startTestServer({ ...limits, LATCHKEY_THROTTLE_IP_FAILURES: '3' }),
  ]);
  rp = await registerRp(server);
});

test.after.always(async () => {
  resetClock();
  await Promise.all([server?.dispose(), direct?.dispose()]);
});

let lastAddress = 0;
/** A network address no other test uses. */
function freshAddress(): string {
  lastAddress += 1;
  return `198.51.100.${lastAddress}`;
}

function unknownEmail(): string {
  return `nobody-${randomBytes(5).toString('hex')}@example.com`;
}

interface Attempt {
  status: number;
  retryAfter: string | null;
  html: string;
}

/** A browser on the sign-in page of a new authorization request. */
async function openLogin(client: RelyingParty = rp): Promise<{ browser: Browser; page: Step }> {
  const browser = new Browser();
  const request = await authorizationRequest(client);
  const page = await go(browser, client, request.url);
  if (page.response.status !== 200 || !page.html.includes('/login"')) throw new Error(`no sign-in page: ${page.response.status}`);
  return { browser, page };
}

/** Submits the sign-in form (with its CSRF token) as sent from `from` through the proxy. */
async function attempt(login: { browser: Browser; page: Step }, email: string, password: string, from?: string): Promise<Attempt> {
  const form = findForm(login.page.html, '/login');
  const response = await login.browser.request(new URL(form.action, login.page.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(from ? { 'x-forwarded-for': from } : {}) },
    body: new URLSearchParams({ ...form.fields, email, password }).toString(),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), html: response.status === 303 ? '' : await response.text() };
}

async function failTimes(times: number, email: string, from: string): Promise<void> {
  const login = await openLogin();
  for (let failure = 0; failure < times; failure += 1) {
    const answer = await attempt(login, email, 'not-the-password', from);
    if (answer.status !== 401) throw new Error(`a wrong password answered ${answer.status}`);
  }
}

function assertThrottledPage(t: import('ava').ExecutionContext, answer: Attempt): void {
  t.is(answer.status, 429);
  t.regex(answer.retryAfter ?? '', /^\d+$/);
  t.true(Number(answer.retryAfter) > 0);
  t.regex(answer.html, new RegExp(`Try again in ${answer.retryAfter} seconds?\\.`));
  // The page is the sign-in form again, with the reason announced.
  t.true(answer.html.includes('role="alert"'));
  t.true(answer.html.includes('/login"'));
}

test.serial('after three wrong passwords even the right one waits; after the wait it signs in and the count starts again', async (t) => {
  const user = await createTestUser(server);
  const from = freshAddress();
  try {
    await failTimes(3, user.email, from);
    const blocked = await attempt(await openLogin(), user.email, user.password, from);
    assertThrottledPage(t, blocked);
    t.is(blocked.retryAfter, '30');
    const lockouts = await listAuditEvents(server.deps, { type: 'user.locked_out' });
    t.true(lockouts.items.some((event) => event.details.email === user.email));

    advanceClock(31);
    const signedIn = await attempt(await openLogin(), user.email, user.password, from);
    t.is(signedIn.status, 303);

    // Were the earlier failures still counted, a fourth would impose a new wait. (From another
    // address: a success forgets the account's failures, not the network's.)
    const later = freshAddress();
    await failTimes(2, user.email, later);
    t.is((await attempt(await openLogin(), user.email, user.password, later)).status, 303);
  } finally {
    resetClock();
  }
});

test.serial('a client that sent three wrong secrets gets 429 for further wrong ones until the wait is over; its right secret keeps working', async (t) => {
  const machine = () => registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [] });
  const [client, other] = await Promise.all([machine(), machine()]);
  const from = freshAddress();
  const token = (who: { clientId: string; clientSecret: string | undefined }) =>
    fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${who.clientId}:${who.clientSecret ?? ''}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-for': from,
      },
      body: 'grant_type=client_credentials',
    });
  const wrongSecret = () => token({ clientId: client.clientId, clientSecret: 'not-the-secret' });
  try {
    for (let failure = 0; failure < 3; failure += 1) {
      const wrong = await wrongSecret();
      t.is(wrong.status, 401);
      t.is(((await wrong.json()) as { error: string }).error, 'invalid_client');
    }

    const refused = await wrongSecret();
    t.is(refused.status, 429);
    t.is(refused.headers.get('retry-after'), '30');
    t.is(refused.headers.get('cache-control'), 'no-store');
    t.regex(refused.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await refused.json()) as { error: string; error_description: string; access_token?: string };
    t.is(body.error, 'invalid_client');
    t.is(body.error_description, 'too many failed attempts; try again in 30 seconds');
    t.is(body.access_token, undefined);

    // Whoever sent the wrong secrets cannot lock the service out: its own secret still works.
    t.is((await token(client)).status, 200);
    // The same network address, another client: its own count is untouched.
    t.is((await token(other)).status, 200);

    const failures = await listAuditEvents(server.deps, { type: 'client.auth_failed', subjectId: client.clientId });
    t.is(failures.items.length, 3, 'one event per wrong secret, none for the refused attempt');
    for (const event of failures.items) {
      t.is(event.actorId, client.clientId);
      t.is(event.ip, from);
      t.false(JSON.stringify(event).includes('not-the-secret'));
    }

    advanceClock(31);
    const afterWait = await wrongSecret();
    t.is(afterWait.status, 401, 'after the wait a wrong secret is compared again');
  } finally {
    resetClock();
  }
});

test('an address no account has gets the same answers, and the same 429 page, as one an account has', async (t) => {
  const user = await createTestUser(server);
  const nobody = unknownEmail();
  const pages: string[] = [];
  for (const email of [user.email, nobody]) {
    const from = freshAddress();
    await failTimes(3, email, from);
    const blocked = await attempt(await openLogin(), email, 'not-the-password', from);
    assertThrottledPage(t, blocked);
    const uid = /\/interaction\/([^/"]+)\/login"/.exec(blocked.html)![1]!;
    pages.push(
      blocked.html
        .replaceAll(email, 'EMAIL')
        .replaceAll(uid, 'UID')
        .replace(/name="_csrf" value="[^"]*"/g, 'name="_csrf" value="TOKEN"')
        .replace(/ nonce="[^"]*"/g, ' nonce="NONCE"')
        .replace(/\d+ seconds?/, 'N seconds'),
    );
  }
  t.is(pages[0], pages[1]);
});

test('another account signs in from the address that locked one out', async (t) => {
  const [locked, other] = await Promise.all([createTestUser(server), createTestUser(server)]);
  const from = freshAddress();
  await failTimes(3, locked.email, from);
  assertThrottledPage(t, await attempt(await openLogin(), locked.email, locked.password, from));
  t.is((await attempt(await openLogin(), other.email, other.password, from)).status, 303);
});

test('behind a trusted proxy each forwarded address has its own count', async (t) => {
  const user = await createTestUser(server);
  const [attacker, neighbour] = [freshAddress(), freshAddress()];
  // One failure for each of five addresses: no address reaches its limit, the network does.
  for (let tried = 0; tried < 5; tried += 1) await failTimes(1, unknownEmail(), attacker);
  assertThrottledPage(t, await attempt(await openLogin(), user.email, user.password, attacker));
  // Entries before the one our proxy appended are the client's own invention: they change nothing.
  assertThrottledPage(t, await attempt(await openLogin(), user.email, user.password, `${freshAddress()}, ${attacker}`));
  t.is((await attempt(await openLogin(), user.email, user.password, neighbour)).status, 303);
});

test('without LATCHKEY_TRUST_PROXY failures for many addresses block the one IP they came from, whatever X-Forwarded-For says', async (t) => {
  const client = await registerRp(direct);
  const user = await createTestUser(direct);
  for (const email of [unknownEmail(), unknownEmail(), unknownEmail()]) {
    const login = await openLogin(client);
    t.is((await attempt(login, email, 'not-the-password', freshAddress())).status, 401);
  }
  const blocked = await attempt(await openLogin(client), user.email, user.password, freshAddress());
  assertThrottledPage(t, blocked);
});

// The embedded engine's data dir belongs to one server; only PostgreSQL has several on one database.
if (engine === 'postgres') {
  test('two servers on one database share the count', async (t) => {
    const second = await startTestServer({ ...limits, LATCHKEY_TRUST_PROXY: 'true' }, server.database);
    try {
      const user = await createTestUser(server);
      const from = freshAddress();
      const onSecond = await registerRp(second);
      await failTimes(2, user.email, from);
      t.is((await attempt(await openLogin(onSecond), user.email, 'not-the-password', from)).status, 401);
      assertThrottledPage(t, await attempt(await openLogin(onSecond), user.email, user.password, from));
      assertThrottledPage(t, await attempt(await openLogin(), user.email, user.password, from));
    } finally {
      await second.close();
    }
  });
}
