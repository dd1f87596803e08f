import test, { type ExecutionContext } from 'ava';
import * as oidc from 'openid-client';
import { loadConfig } from '../../src/config.js';
import { ADMIN_SCOPE, adminResourceIdentifier } from '../../src/domain/admin-access.js';
import { createClient } from '../../src/domain/clients.js';
import { createInitialAccessToken } from '../../src/domain/initial-access-tokens.js';
import { createUser } from '../../src/domain/users.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { testActor } from '../helpers/actor.js';
import { Browser } from '../helpers/browser.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServerProcess, type ServerProcess } from '../helpers/processes.js';
import { authorizationRequest, go, isConsentPage, isLoginPage, postWithBasic, REDIRECT_URI, signIn, submitConsent, submitLogin, type RelyingParty } from '../helpers/rp.js';
import { testEnv } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

// A spawned `latchkey serve` reaches PostgreSQL only through a proxy the test cuts. Both of its
// connection settings go through it: in a real outage the database is gone for the pool the
// requests use and for the direct connection that migrations and job locks use alike, and
// the background jobs (every 200 ms here) must come through it too.
const DB_TIMEOUT_MS = 1000;
// Generous: a request may wait for the database more than once (the provider looks its client
// up again to answer an authorization error), and the machine may be busy with other tests.
const ANSWER_WITHIN_MS = DB_TIMEOUT_MS + 4000;
const OUTAGE_MS = 3000;

let database: TestDatabase;
let proxy: TcpProxy;
let server: ServerProcess;
let setup: Deps;

test.before(async () => {
  database = await createTestDatabase();
  proxy = await startTcpProxy(database.env.DATABASE_URL!);
  server = await startServerProcess({
    ...database.env,
    DATABASE_URL: proxy.url,
    LATCHKEY_DIRECT_DATABASE_URL: proxy.url,
    LATCHKEY_DB_TIMEOUT: `${DB_TIMEOUT_MS}ms`,
    LATCHKEY_CLEANUP_INTERVAL: '200ms',
    // Warnings are expected during an outage; errors are not.
    LATCHKEY_LOG_LEVEL: 'warn',
  });
  // Users and clients are made straight in the database, past the proxy.
  setup = await createDeps(loadConfig({ ...testEnv, ...database.env }));
});

test.after.always(async () => {
  await server?.stop();
  await setup?.db.close();
  await proxy?.close();
  await database?.drop();
});

async function relyingParty(clientId: string, clientSecret: string | undefined): Promise<RelyingParty> {
  const config = await oidc.discovery(new URL(server.issuer), clientId, undefined, oidc.ClientSecretBasic(clientSecret ?? ''), {
    execute: [oidc.allowInsecureRequests],
  });
  return { config, clientId, clientSecret, redirectUri: REDIRECT_URI };
}

interface Answer {
  status: number;
  ms: number;
  json: boolean;
  /** The OAuth error of a JSON answer, or the one a redirect to the client carries. */
  error: string | undefined;
  retryAfter: string | null;
  location: string | null;
}

type Probe = () => Promise<Response>;

async function answer(probe: Probe): Promise<Answer> {
  const started = Date.now();
  const response = await probe();
  const ms = Date.now() - started;
  const text = await response.text();
  const location = response.headers.get('location');
  const json = response.headers.get('content-type')?.includes('json') === true;
  let error: string | undefined;
  if (json) error = (JSON.parse(text) as { error?: string }).error;
  else if (location) error = new URL(location, server.issuer).searchParams.get('error') ?? undefined;
  return { status: response.status, ms, json, error, retryAfter: response.headers.get('retry-after'), location };
}

/** The server's log lines at error level or above (pino's level 50 and up). */
function loggedErrors(): string[] {
  return server
    .output()
    .stdout.split('\n')
    .filter((line) => /"level":(5|6)0\b/.test(line));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A normal answer: 200, or for an authorization request, the client's callback with a code. */
function succeeded(result: Answer): boolean {
  if (result.status === 200) return true;
  const callback = result.location ? new URL(result.location, REDIRECT_URI) : undefined;
  return (result.status === 302 || result.status === 303) && callback?.href.startsWith(REDIRECT_URI) === true && callback.searchParams.has('code');
}

async function pause(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** What the tests ask of the server: a user signed in before the outage, with tokens and a session. */
interface World {
  rp: RelyingParty;
  user: { id: string; email: string };
  accessToken: string;
  refreshToken: string;
  registrationToken: string;
  /** Requests that read or write the database. */
  needsDatabase: Record<string, Probe>;
  /** Requests answered from the process's memory. */
  fromMemory: Record<string, Probe>;
  readyz: Probe;
}

const PASSWORD = 'correct horse battery staple 1';

async function prepare(): Promise<World> {
  const { issuer } = server;
  const metadata = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  const user = await createUser(setup, testActor, { email: 'outage@example.com', password: PASSWORD, name: 'Outage', emailVerified: true });
  const app = await createClient(setup, testActor, { name: 'Outage RP', redirectUris: [REDIRECT_URI] });
  const rp = await relyingParty(app.client.clientId, app.clientSecret);
  const browser = new Browser();
  const { callback, request } = await signIn(browser, rp, { email: user.email, password: PASSWORD }, { scope: 'openid profile email offline_access', prompt: 'consent' });
  const tokens = await oidc.authorizationCodeGrant(rp.config, callback, { pkceCodeVerifier: request.codeVerifier, expectedState: request.state, expectedNonce: request.nonce });

  const worker = await createClient(setup, testActor, { name: 'Outage worker', grantTypes: ['client_credentials'] });
  const admin = await createClient(setup, testActor, { name: 'Outage admin', grantTypes: ['client_credentials'], adminAccess: true });
  const adminRp = await relyingParty(admin.client.clientId, admin.clientSecret);
  const adminApi = adminResourceIdentifier({ http: { ...setup.config.http, issuer } });
  const adminToken = (await oidc.clientCredentialsGrant(adminRp.config, { scope: ADMIN_SCOPE, resource: adminApi })).access_token;

  // A client that registered itself (RFC 7591) and manages its registration (RFC 7592).
  const { token: initialAccessToken } = await createInitialAccessToken(setup, testActor, { description: 'outage' });
  const machine = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] };
  const registration = await fetch(metadata.registration_endpoint!, {
    method: 'POST',
    headers: { authorization: `Bearer ${initialAccessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Outage self-registered', ...machine }),
  });
  const registered = (await registration.json()) as { client_id: string; client_secret: string; registration_access_token: string; registration_client_uri: string };

  const authorizeWithSession = await authorizationRequest(rp);
  const world: World = {
    rp,
    user,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token!,
    registrationToken: registered.registration_access_token,
    needsDatabase: {
      'client credentials': () =>
        postWithBasic(metadata.token_endpoint!, { clientId: worker.client.clientId, clientSecret: worker.clientSecret }, { grant_type: 'client_credentials' }),
      async refresh() {
        const response = await postWithBasic(metadata.token_endpoint!, rp, { grant_type: 'refresh_token', refresh_token: world.refreshToken });
        // Each use rotates it: the client keeps the new one.
        if (response.ok) world.refreshToken = ((await response.clone().json()) as { refresh_token: string }).refresh_token;
        return response;
      },
      introspection: () => postWithBasic(metadata.introspection_endpoint!, rp, { token: world.accessToken }),
      userinfo: () => fetch(metadata.userinfo_endpoint!, { headers: { authorization: `Bearer ${world.accessToken}` } }),
      'authorize with a session': () => browser.request(authorizeWithSession.url),
      'admin API': () => fetch(`${issuer}/admin/api/v1/clients`, { headers: { authorization: `Bearer ${adminToken}` } }),
      async 'registration update'() {
        const response = await fetch(registered.registration_client_uri, {
          method: 'PUT',
          headers: { authorization: `Bearer ${world.registrationToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ...machine, client_id: registered.client_id, client_secret: registered.client_secret, client_name: 'Outage self-registered' }),
        });
        // Each update rotates the registration access token.
        if (response.ok) world.registrationToken = ((await response.clone().json()) as { registration_access_token: string }).registration_access_token;
        return response;
      },
    },
    fromMemory: {
      discovery: () => fetch(`${issuer}/.well-known/openid-configuration`),
      jwks: () => fetch(metadata.jwks_uri!),
      healthz: () => fetch(`${issuer}/healthz`),
    },
    readyz: () => fetch(`${issuer}/readyz`),
  };
  return world;
}

let world: World | undefined;
const theWorld = async () => (world ??= await prepare());

type Named = Answer & { name: string };

async function round(probes: Record<string, Probe>): Promise<Named[]> {
  return Promise.all(Object.entries(probes).map(async ([name, probe]) => ({ name, ...(await answer(probe)) })));
}

/** Asks everything again and again while the database is away. */
async function duringOutage(probes: Record<string, Probe>, ms: number): Promise<Named[]> {
  const answers: Named[] = [];
  const ends = Date.now() + ms;
  while (Date.now() < ends) answers.push(...(await round(probes)));
  return answers;
}

// What a browser asks for: answered with pages, the rest as JSON.
const PAGES = new Set(['authorize with a session', 'login page']);
// Used once each: every successful use rotates them (see recovered).
const ROTATING = ['refresh', 'registration update'];

/** What each answer during an outage must be: 503 fast where the database is needed, 200 from memory, never a 500. */
function checkOutageAnswers(t: ExecutionContext, { fromMemory }: World, answers: Named[]): void {
  for (const result of answers) {
    const label = `${result.name} during the outage: ${JSON.stringify(result)}`;
    t.true(result.status < 500 || result.status === 503, label);
    if (result.name in fromMemory) {
      t.is(result.status, 200, label);
    } else if (result.name === 'readyz') {
      t.is(result.status, 503, label);
    } else {
      t.true(result.ms <= ANSWER_WITHIN_MS, label);
      if (result.status === 302 || result.status === 303) {
        // RFC 6749 §4.1.2.1: an authorization request is answered at the client's redirect URI.
        t.true(result.location?.startsWith(REDIRECT_URI), label);
        t.is(result.error, 'temporarily_unavailable', label);
      } else {
        t.is(result.status, 503, label);
        t.truthy(result.retryAfter, label);
        t.is(result.json, !PAGES.has(result.name), label);
        if (result.json) t.is(result.error, 'temporarily_unavailable', label);
      }
    }
  }
}

/**
 * Asks until every request succeeds again (or a generous deadline passes). What rotates on use is
 * asked once the rest works: a request that failed half-way (the old token used up, the new one
 * not saved) is the one moment of an outage that can cost a grant, and the test does not provoke it.
 */
async function recovered(probes: Record<string, Probe>): Promise<string[]> {
  const once = Object.fromEntries(Object.entries(probes).filter(([name]) => ROTATING.includes(name)));
  const rest = Object.fromEntries(Object.entries(probes).filter(([name]) => !ROTATING.includes(name)));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const failing = (await round(rest)).filter((result) => !succeeded(result)).map((result) => `${result.name}: ${result.status}`);
    if (failing.length === 0) break;
    if (Date.now() > deadline) return failing;
    await pause(200);
  }
  return (await round(once)).filter((result) => !succeeded(result)).map((result) => `${result.name}: ${result.status}`);
}

test.serial('a database outage answers 503 fast, keeps what is in memory serving, and everything works again afterwards', async (t) => {
  const pid = server.pid;
  const current = await theWorld();
  const { rp } = current;

  // A second user is half-way through signing in: the login page is showing.
  const pending = new Browser();
  const pendingRequest = await authorizationRequest(rp);
  const loginPage = await go(pending, rp, pendingRequest.url);
  t.true(isLoginPage(loginPage));

  const probes = { ...current.needsDatabase, 'login page': () => pending.request(loginPage.url), ...current.fromMemory, readyz: current.readyz };
  for (const before of await round(probes)) t.true(succeeded(before), `${before.name} before the cut: ${JSON.stringify(before)}`);
  // A client changed just before: every process drops its cached clients, so during the cut
  // the server has to look them up (the change feed polls every 100 ms in tests).
  await createClient(setup, testActor, { name: 'Changed just before', grantTypes: ['client_credentials'] });
  await pause(500);

  proxy.cut();
  const answers = await duringOutage(probes, OUTAGE_MS);
  proxy.restore();
  t.true(isAlive(pid), 'the server process survived the outage');
  checkOutageAnswers(t, current, answers);
  t.deepEqual(loggedErrors(), []);

  // Back: everything answers again, in the same process, without a restart.
  t.deepEqual(await recovered(probes), [], 'every request succeeds again');
  t.true(isAlive(pid));

  // No grant was lost: the refresh token held at the cut refreshed (in recovered), the access
  // token is still active, and the pending sign-in finishes with its code.
  const introspected = (await (await current.needsDatabase.introspection!()).json()) as { active: boolean; sub?: string };
  t.true(introspected.active);
  t.is(introspected.sub, current.user.id);

  const second = await createUser(setup, testActor, { email: 'pending@example.com', password: PASSWORD, name: 'Pending', emailVerified: true });
  let step = await go(pending, rp, loginPage.url);
  step = await submitLogin(pending, rp, step, { email: second.email, password: PASSWORD });
  if (isConsentPage(step)) step = await submitConsent(pending, rp, step);
  t.true(step.url.href.startsWith(REDIRECT_URI), `the pending sign-in reached ${step.url.href}`);
  const finished = await oidc.authorizationCodeGrant(rp.config, step.url, {
    pkceCodeVerifier: pendingRequest.codeVerifier,
    expectedState: pendingRequest.state,
    expectedNonce: pendingRequest.nonce,
  });
  t.is(finished.claims()?.sub, second.id);
});

test.serial('connections left hanging by a database host that vanished are dropped, not reused', async (t) => {
  const pid = server.pid;
  const current = await theWorld();
  const probes = { ...current.needsDatabase, ...current.fromMemory, readyz: current.readyz };
  // The pool holds open connections now, which the vanished host leaves hanging mid-query.
  for (const before of await round(probes)) t.true(succeeded(before), `${before.name} before: ${JSON.stringify(before)}`);

  proxy.vanish();
  const answers = await duringOutage(probes, OUTAGE_MS);
  proxy.restore();
  t.true(isAlive(pid));
  checkOutageAnswers(t, current, answers);
  t.deepEqual(loggedErrors(), []);

  // The hanging connections never answer again: only fresh ones can serve.
  t.deepEqual(await recovered(probes), [], 'every request succeeds again');
  t.true(isAlive(pid));
});
