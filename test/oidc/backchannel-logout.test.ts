import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { getClient } from '../../src/domain/clients.js';
import { createInitialAccessToken } from '../../src/domain/initial-access-tokens.js';
import { disableUser, setUserPassword, updateUser } from '../../src/domain/users.js';
import { assertOneLineError, cliFor, eventually, json } from '../cli/support.js';
import { testActor } from '../helpers/actor.js';
import { adminClientToken, adminFetch } from '../helpers/admin.js';
import { Browser, findForm } from '../helpers/browser.js';
import { advanceClock, resetClock } from '../helpers/clock.js';
import { createTestUser, discover, POST_LOGOUT_URI, redeem, REDIRECT_URI, registerRp, signIn, type RelyingParty, type TestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

interface Delivery {
  /** Which of the test's applications it was posted to (the last path segment). */
  label: string;
  status: number;
  typ?: string | undefined;
  claims?: JWTPayload;
  problem?: string;
}

/**
 * The applications' back-channel logout endpoints, on this machine. Each logout token is checked
 * as a relying party must (Back-Channel Logout §2.6): signature against the server's JWKS, issuer,
 * `typ`. A label can be told to fail its next requests with a 500.
 */
interface Receiver {
  uri(label: string): string;
  deliveries(label: string): Delivery[];
  all(): Delivery[];
  failNext(label: string, times: number): void;
  close(): Promise<void>;
}

async function startReceiver(issuer: string, jwksUri: string): Promise<Receiver> {
  const jwks = createRemoteJWKSet(new URL(jwksUri));
  const received: Delivery[] = [];
  const failures = new Map<string, number>();

  async function answer(path: string, body: string): Promise<number> {
    const label = path.split('/').pop() ?? '';
    const failing = failures.get(label) ?? 0;
    if (failing > 0) {
      failures.set(label, failing - 1);
      received.push({ label, status: 500 });
      return 500;
    }
    try {
      const token = new URLSearchParams(body).get('logout_token') ?? '';
      const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer, typ: 'logout+jwt', requiredClaims: ['iat', 'jti', 'events'] });
      received.push({ label, status: 200, typ: protectedHeader.typ, claims: payload });
      return 200;
    } catch (error) {
      received.push({ label, status: 400, problem: String(error) });
      return 400;
    }
  }

  const server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => {
      void answer(request.url ?? '', body).then((status) => response.writeHead(status).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    uri: (label) => `http://127.0.0.1:${port}/logout/${label}`,
    deliveries: (label) => received.filter((delivery) => delivery.label === label),
    all: () => [...received],
    failNext: (label, times) => failures.set(label, times),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let server: TestServer;
let receiver: Receiver;
let cli: ReturnType<typeof cliFor>;

test.before(async () => {
  server = await startTestServer();
  const discovery = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
  receiver = await startReceiver(server.issuer, discovery.jwks_uri);
  cli = cliFor(server);
});

test.after.always(async () => {
  await server?.dispose();
  await receiver?.close();
});

const label = () => `app-${randomBytes(4).toString('hex')}`;

interface SignedIn {
  user: TestUser;
  rp: RelyingParty;
  browser: Browser;
  idToken: string;
  sid: string;
}

/** A user signed in to an application that takes logout tokens with the session id, in a browser of their own. */
async function signedIn(to: string, user?: TestUser): Promise<SignedIn> {
  const rp = await registerRp(server, { name: `App ${to}`, backchannelLogoutUri: receiver.uri(to), backchannelLogoutSessionRequired: true });
  return signInTo(rp, user ?? (await createTestUser(server)), new Browser());
}

async function signInTo(rp: RelyingParty, user: TestUser, browser: Browser): Promise<SignedIn> {
  const { callback, request } = await signIn(browser, rp, user);
  const tokens = await redeem(rp, callback, request);
  const claims = tokens.claims()!;
  return { user, rp, browser, idToken: tokens.id_token!, sid: claims.sid as string };
}

/** The one logout token the application at `to` accepted (waiting for the server to send it). */
async function logoutToken(t: ExecutionContext, to: string): Promise<Delivery> {
  t.true(await eventually(async () => receiver.deliveries(to).some((delivery) => delivery.status !== 500)), `no logout token reached ${to}`);
  const answered = receiver.deliveries(to).filter((delivery) => delivery.status !== 500);
  t.deepEqual(
    answered.map((delivery) => delivery.problem),
    [undefined],
    'exactly one logout token, and a valid one',
  );
  return answered[0]!;
}

/** What Back-Channel Logout §2.4 asks of a logout token for this user's session with this application. */
function assertLogoutTokenFor(t: ExecutionContext, delivery: Delivery, session: SignedIn) {
  const claims = delivery.claims!;
  t.is(delivery.typ, 'logout+jwt');
  t.is(claims.iss, server.issuer);
  t.is(claims.aud, session.rp.clientId);
  t.is(typeof claims.iat, 'number');
  t.is(typeof claims.jti, 'string');
  t.deepEqual(claims.events, { [LOGOUT_EVENT]: {} });
  t.is(claims.sub, session.user.id);
  t.is(typeof session.sid, 'string', 'the ID token carries sid');
  t.is(claims.sid, session.sid);
  t.false('nonce' in claims, 'a logout token never has a nonce');
}

async function queuedFor(clientId: string): Promise<Array<{ attempts: number; last_error: string | null }>> {
  return server.deps.db.knex('backchannel_logouts').where({ client_id: clientId }).select('attempts', 'last_error');
}

const strongPassword = () => `new-pw-${randomBytes(8).toString('hex')}`;

test.serial('an application that answers 500 gets the logout token again later, and the queue forgets it once accepted', async (t) => {
  t.teardown(resetClock);
  const to = label();
  const session = await signedIn(to);
  receiver.failNext(to, 1);
  await setUserPassword(server.deps, testActor, session.user.id, { password: strongPassword() });

  t.true(await eventually(async () => (await queuedFor(session.rp.clientId)).some((row) => row.last_error !== null)), 'the failure is recorded');
  const [waiting] = await queuedFor(session.rp.clientId);
  t.is(waiting?.attempts, 1);
  t.true(waiting?.last_error?.includes('500'), waiting?.last_error ?? '');
  t.deepEqual(
    receiver.deliveries(to).map((delivery) => delivery.status),
    [500],
    'no second try before the back-off is over',
  );

  advanceClock(15);
  assertLogoutTokenFor(t, await logoutToken(t, to), session);
  t.true(await eventually(async () => (await queuedFor(session.rp.clientId)).length === 0), 'the delivered logout leaves the queue');
});

test('RP-initiated logout sends the application a logout token for the session it ends', async (t) => {
  const to = label();
  const session = await signedIn(to);
  const endSession = oidc.buildEndSessionUrl(session.rp.config, { id_token_hint: session.idToken, post_logout_redirect_uri: POST_LOGOUT_URI });
  const page = await session.browser.request(endSession);
  const form = findForm(await page.text(), '/session/end/confirm');
  const confirmed = await session.browser.post(new URL(form.action, endSession), { ...form.fields, logout: 'yes' });
  t.is(confirmed.status, 303);
  t.true(confirmed.headers.get('location')?.startsWith(POST_LOGOUT_URI));
  assertLogoutTokenFor(t, await logoutToken(t, to), session);
});

test('an admin setting a new password logs the user out of every application that takes logout tokens', async (t) => {
  const first = label();
  const second = label();
  const one = await signedIn(first);
  // Another application, in another browser: its own session, its own sid.
  const other = await signedIn(second, one.user);
  await setUserPassword(server.deps, testActor, one.user.id, { password: strongPassword() });
  assertLogoutTokenFor(t, await logoutToken(t, first), one);
  assertLogoutTokenFor(t, await logoutToken(t, second), other);
  t.not(one.sid, other.sid);
});

test('disabling a user logs them out of their applications', async (t) => {
  const to = label();
  const session = await signedIn(to);
  await disableUser(server.deps, testActor, session.user.id);
  assertLogoutTokenFor(t, await logoutToken(t, to), session);
});

test('a user disabled with the CLI, in a process of its own, is logged out of their applications by the running server', async (t) => {
  const to = label();
  const session = await signedIn(to);
  const disabled = json(t, await cli(['users', 'disable', session.user.id, '--json']));
  t.is(disabled.disabled, true);
  assertLogoutTokenFor(t, await logoutToken(t, to), session);
  t.true(await eventually(async () => (await queuedFor(session.rp.clientId)).length === 0));
});

test('an application without a back-channel logout URI gets nothing, and nothing is left queued for it', async (t) => {
  const to = label();
  const user = await createTestUser(server);
  const browser = new Browser();
  const listening = await registerRp(server, { name: 'Listening app', backchannelLogoutUri: receiver.uri(to), backchannelLogoutSessionRequired: true });
  const silent = await registerRp(server, { name: 'Silent app' });
  // One browser session signed in to both.
  const session = await signInTo(listening, user, browser);
  await signInTo(silent, user, browser);

  await disableUser(server.deps, testActor, user.id);
  assertLogoutTokenFor(t, await logoutToken(t, to), session);
  t.true(await eventually(async () => (await queuedFor(silent.clientId)).length === 0), 'the logout for the silent app is dropped');
  t.false(receiver.all().some((delivery) => delivery.claims?.aud === silent.clientId));
});

test('the CLI sets a back-channel logout URI that the provider uses, shows it, and clears it', async (t) => {
  const to = label();
  const created = json(
    t,
    await cli([
      'clients',
      'create',
      '--name',
      'CLI app',
      '--redirect-uri',
      REDIRECT_URI,
      '--post-logout-redirect-uri',
      POST_LOGOUT_URI,
      '--backchannel-logout-uri',
      receiver.uri(to),
      '--backchannel-logout-session-required',
      '--json',
    ]),
  );
  const clientId = created.client_id as string;
  const shown = json(t, await cli(['clients', 'get', clientId, '--json']));
  t.is(shown.backchannel_logout_uri, receiver.uri(to));
  t.is(shown.backchannel_logout_session_required, true);

  // The provider reads it: the ID token carries sid, and logging out reaches the URI.
  const rp: RelyingParty = { config: await discover(server, clientId, created.client_secret as string), clientId, clientSecret: created.client_secret as string, redirectUri: REDIRECT_URI };
  const session = await signInTo(rp, await createTestUser(server), new Browser());
  await setUserPassword(server.deps, testActor, session.user.id, { password: strongPassword() });
  assertLogoutTokenFor(t, await logoutToken(t, to), session);

  const cleared = json(t, await cli(['clients', 'update', clientId, '--backchannel-logout-uri', '', '--json']));
  t.false('backchannel_logout_uri' in cleared);
  t.false('backchannel_logout_session_required' in cleared);
});

test('the CLI refuses a back-channel logout URI that is neither https nor on this machine, naming the flag', async (t) => {
  const result = await cli(['clients', 'create', '--name', 'Bad', '--redirect-uri', REDIRECT_URI, '--backchannel-logout-uri', 'http://rp.example/logout']);
  const line = assertOneLineError(t, result, '--backchannel-logout-uri');
  t.true(line.includes('https'), line);
});

test('discovery says back-channel logout with session ids is supported', async (t) => {
  const discovery = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  t.is(discovery.backchannel_logout_supported, true);
  t.is(discovery.backchannel_logout_session_supported, true);
});

test('the admin API takes, returns and clears the back-channel logout settings, and refuses a plain-http URI elsewhere', async (t) => {
  const { token } = await adminClientToken(server);
  const api = (path: string, init: { method?: string; body?: unknown } = {}) => adminFetch(server, token, path, init);
  const created = await api('/clients', {
    method: 'POST',
    body: { client_name: 'API app', redirect_uris: [REDIRECT_URI], backchannel_logout_uri: 'https://rp.example/backchannel', backchannel_logout_session_required: true },
  });
  t.is(created.status, 201, JSON.stringify(created.body));
  const clientId = created.body!.client_id as string;
  const read = await api(`/clients/${clientId}`);
  t.is(read.body!.backchannel_logout_uri, 'https://rp.example/backchannel');
  t.is(read.body!.backchannel_logout_session_required, true);

  const cleared = await api(`/clients/${clientId}`, { method: 'PATCH', body: { backchannel_logout_uri: null } });
  t.is(cleared.status, 200, JSON.stringify(cleared.body));
  t.false('backchannel_logout_uri' in cleared.body!);
  t.false('backchannel_logout_session_required' in cleared.body!);

  const refused = await api('/clients', {
    method: 'POST',
    body: { client_name: 'Plain http', redirect_uris: [REDIRECT_URI], backchannel_logout_uri: 'http://rp.example/backchannel' },
  });
  t.is(refused.status, 400);
  const details = refused.body!.details as Record<string, string>;
  t.deepEqual(Object.keys(details), ['backchannel_logout_uri']);
  t.true(details.backchannel_logout_uri!.includes('https'), details.backchannel_logout_uri);
  t.true((refused.body!.error_description as string).startsWith('backchannel_logout_uri: '));

  const alone = await api('/clients', { method: 'POST', body: { client_name: 'No URI', redirect_uris: [REDIRECT_URI], backchannel_logout_session_required: true } });
  t.is(alone.status, 400);
  t.deepEqual(Object.keys(alone.body!.details as object), ['backchannel_logout_session_required']);
});

test('a self-registered client may ask for logout tokens at an https URI, not at plain http elsewhere', async (t) => {
  const register = async (backchannelLogoutUri: string) => {
    const { token } = await createInitialAccessToken(server.deps, testActor, { description: 'back-channel logout tests' });
    const response = await fetch(`${server.issuer}/reg`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Self-registered', redirect_uris: [REDIRECT_URI], backchannel_logout_uri: backchannelLogoutUri, backchannel_logout_session_required: true }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const accepted = await register('https://rp.example/backchannel');
  t.is(accepted.status, 201, JSON.stringify(accepted.body));
  t.is(accepted.body.backchannel_logout_uri, 'https://rp.example/backchannel');
  t.is(accepted.body.backchannel_logout_session_required, true);

  const refused = await register('http://rp.example/backchannel');
  t.is(refused.status, 400);
  t.is(refused.body.error, 'invalid_client_metadata');
  t.true((refused.body.error_description as string).startsWith('backchannel_logout_uri '), JSON.stringify(refused.body));
});

/** An admin signed in to the console, as a browser would. */
async function consoleAdmin(): Promise<Browser> {
  const user = await createTestUser(server);
  await updateUser(server.deps, testActor, user.id, { isAdmin: true });
  const browser = new Browser();
  const { url, response } = await browser.follow(`${server.issuer}/admin`);
  const form = findForm(await response.text(), '/login');
  const posted = await browser.post(new URL(form.action, url), { ...form.fields, email: user.email, password: user.password });
  await browser.follow(new URL(posted.headers.get('location')!, url));
  return browser;
}

test('in the console an admin sets the back-channel logout URI, sees it on the edit form, and a bad one is shown next to the field', async (t) => {
  const browser = await consoleAdmin();
  const newForm = async () => {
    const form = findForm(await (await browser.request(`${server.issuer}/admin/clients/new`)).text(), '/admin/clients');
    // findForm keeps every checkbox as if it were checked: leave the protocol requirements off, as a browser would.
    for (const box of ['requirePushedAuthorizationRequests', 'dpopBoundAccessTokens', 'requireSignedRequestObject']) delete form.fields[box];
    return form;
  };
  const fields = { name: 'Console app', grantTypes: 'authorization_code', redirectUris: REDIRECT_URI };

  const refused = await browser.post(`${server.issuer}/admin/clients`, { ...(await newForm()).fields, ...fields, backchannelLogoutUri: 'http://rp.example/logout' });
  t.is(refused.status, 400);
  t.regex(
    await refused.text(),
    /<input id="backchannelLogoutUri"[^>]*value="http:\/\/rp.example\/logout"[^>]*aria-describedby="backchannelLogoutUri-hint backchannelLogoutUri-error"[^>]*aria-invalid="true">\s*<p class="field-error" id="backchannelLogoutUri-error">must be an https URL/,
  );

  const created = await browser.post(`${server.issuer}/admin/clients`, {
    ...(await newForm()).fields,
    ...fields,
    backchannelLogoutUri: 'https://rp.example/logout',
    backchannelLogoutSessionRequired: 'on',
  });
  t.is(created.status, 200);
  const clientId = /Client ID<\/dt><dd><code>([^<]+)</.exec(await created.text())?.[1];
  const client = await getClient(server.deps, clientId!);
  t.is(client.metadata.backchannel_logout_uri, 'https://rp.example/logout');
  t.is(client.metadata.backchannel_logout_session_required, true);
  const edit = await (await browser.request(`${server.issuer}/admin/clients/${clientId}`)).text();
  t.regex(edit, /<input id="backchannelLogoutUri" name="backchannelLogoutUri" type="url" value="https:\/\/rp.example\/logout"/);
  t.regex(edit, /<input type="checkbox" id="backchannelLogoutSessionRequired" name="backchannelLogoutSessionRequired" value="on" checked/);
});
