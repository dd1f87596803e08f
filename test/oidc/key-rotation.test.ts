import test from 'ava';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { listKeys, loadKeys, rotateKeys, type KeyInfo } from '../../src/domain/keys.js';
import { createResource } from '../../src/domain/resources.js';
import { listCookieSecrets, listSigningKeys } from '../../src/store/keys.js';
import { testActor } from '../helpers/actor.js';
import { Browser } from '../helpers/browser.js';
import { advanceClock, resetClock } from '../helpers/clock.js';
import {
  authorizationRequest,
  createTestUser,
  go,
  isConsentPage,
  postWithBasic,
  redeem,
  registerRp,
  signIn,
  submitConsent,
  submitLogin,
  type RelyingParty,
  type TestUser,
} from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Every test here rotates the keys of one server, and the last one moves the clock: serial.

const api = 'https://rotation.example';
const API_TTL = 90;
let server: TestServer;
let machine: RelyingParty;
let app: RelyingParty;
let user: TestUser;

test.before(async () => {
  server = await startTestServer({
    LATCHKEY_ACCESS_TOKEN_TTL: '60s',
    LATCHKEY_ID_TOKEN_TTL: '45s',
    // The key retirement job runs with cleanup.
    LATCHKEY_CLEANUP_INTERVAL: '500ms',
  });
  // The longest token lifetime is this API's, longer than the defaults above.
  await createResource(server.deps, testActor, { identifier: api, scopes: ['read'], accessTokenFormat: 'jwt', accessTokenTtl: API_TTL });
  machine = await registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [], resources: [api], scope: 'read' });
  app = await registerRp(server);
  user = await createTestUser(server);
});

test.after.always(async () => {
  resetClock();
  await server?.dispose();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

async function jwks(): Promise<JSONWebKeySet> {
  const response = await fetch(`${server.issuer}/jwks`);
  if (response.status !== 200) throw new Error(`/jwks answered ${response.status}`);
  return (await response.json()) as JSONWebKeySet;
}

const publishedKids = async () => (await jwks()).keys.map((key) => key.kid);
const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid;

/** A JWT access token (ES256) for the API. */
async function accessToken(): Promise<string> {
  return (await oidc.clientCredentialsGrant(machine.config, { resource: api, scope: 'read' })).access_token;
}

/** An ID token (RS256) from a whole code flow. */
async function idToken(): Promise<string> {
  const { callback, request } = await signIn(new Browser(), app, user);
  return (await redeem(app, callback, request)).id_token!;
}

async function verifies(jwt: string, keys: JSONWebKeySet, audience?: string): Promise<boolean> {
  try {
    await jwtVerify(jwt, createLocalJWKSet(keys), { issuer: server.issuer, ...(audience ? { audience } : {}) });
    return true;
  } catch {
    return false;
  }
}

const byKid = (keys: KeyInfo[], kid: string) => keys.find((key) => key.kid === kid)!;
const activeKid = (keys: KeyInfo[], alg: string) => keys.find((key) => key.alg === alg && key.state === 'active')!.kid;

test.serial('new keys are published at once and sign only after their delay, without a restart; the old ones keep verifying while they retire', async (t) => {
  const before = await listKeys(server.deps);
  const oldEs = activeKid(before, 'ES256');
  const oldRs = activeKid(before, 'RS256');
  const [signingCookieSecret] = (await loadKeys(server.deps)).cookieSecrets;

  // A delay no test machine outlasts, for checking what a pending key does.
  const waiting = await rotateKeys(server.deps, testActor, { activationDelay: 3600 });
  const cookieSecrets = (await loadKeys(server.deps)).cookieSecrets;
  t.is(cookieSecrets[0], signingCookieSecret, 'the new cookie secret does not sign before every node can verify it');
  t.is(cookieSecrets.length, 2, 'but it verifies at once');
  t.deepEqual(waiting.map((key) => [key.alg, key.state]).sort(), [
    ['ES256', 'pending'],
    ['RS256', 'pending'],
  ]);
  const waitingKids = waiting.map((key) => key.kid);
  t.true(
    await eventually(async () => {
      const kids = await publishedKids();
      return waitingKids.every((kid) => kids.includes(kid));
    }),
    'the new keys are published',
  );
  const oldAccess = await accessToken();
  const oldId = await idToken();
  t.is(kidOf(oldAccess), oldEs, 'a pending key does not sign access tokens');
  t.is(kidOf(oldId), oldRs, 'a pending key does not sign ID tokens');

  // A short delay: these keys overtake the waiting ones and sign once it has passed.
  const rotated = await rotateKeys(server.deps, testActor, { activationDelay: 2 });
  const newEs = rotated.find((key) => key.alg === 'ES256')!.kid;
  const newRs = rotated.find((key) => key.alg === 'RS256')!.kid;
  const during = await listKeys(server.deps);
  for (const [oldKid, fresh] of [
    [oldEs, byKid(during, newEs)],
    [oldRs, byKid(during, newRs)],
  ] as const) {
    const old = byKid(during, oldKid);
    t.is(old.supersededAt?.getTime(), fresh.activatesAt.getTime(), 'the old key stops signing when the new one starts');
    t.is(old.retiresAt!.getTime() - old.supersededAt!.getTime(), (API_TTL + 60) * 1000, 'kept for the longest token lifetime and a clock margin');
  }

  t.true(await eventually(async () => kidOf(await accessToken()) === newEs), 'after the delay the new key signs access tokens, without a restart');
  t.is(kidOf(await idToken()), newRs, 'and ID tokens');

  const after = await listKeys(server.deps);
  t.deepEqual(
    [oldEs, oldRs, ...waitingKids, newEs, newRs].map((kid) => byKid(after, kid).state),
    ['retiring', 'retiring', 'retiring', 'retiring', 'active', 'active'],
    'the overtaken keys never sign: published until their retirement, like the old ones',
  );
  const published = await jwks();
  t.deepEqual(
    [oldEs, oldRs, ...waitingKids, newEs, newRs].filter((kid) => !published.keys.some((key) => key.kid === kid)),
    [],
    'every key not retired is published',
  );
  t.true(await verifies(oldAccess, published, api), 'a token the retiring key signed still verifies against /jwks');
  t.true(await verifies(oldId, published, app.clientId));
});

test.serial('a login flow that spans a key swap completes, and its ID token is signed by the new key', async (t) => {
  const browser = new Browser();
  const someone = await createTestUser(server);
  const request = await authorizationRequest(app);
  const consent = await submitLogin(browser, app, await go(browser, app, request.url), someone);
  t.true(isConsentPage(consent), consent.html);

  // Signing keys and the cookie secret change between the login and the consent.
  const rotated = await rotateKeys(server.deps, testActor, { activationDelay: 0 });
  const newEs = rotated.find((key) => key.alg === 'ES256')!.kid;
  const newRs = rotated.find((key) => key.alg === 'RS256')!.kid;
  t.true(await eventually(async () => kidOf(await accessToken()) === newEs), 'the server swapped its provider');

  const landed = await submitConsent(browser, app, consent);
  const tokens = await redeem(app, landed.url, request);
  t.is(kidOf(tokens.id_token!), newRs);
  t.true(await verifies(tokens.id_token!, await jwks(), app.clientId));
});

test.serial('a load run across two rotations has no failed request, and every token verifies against the JWKS fetched right after', async (t) => {
  const failures: string[] = [];
  const signers = new Set<string>();
  let rounds = 0;
  let stop = false;
  const expectOk = async (what: string, response: Response) => {
    if (response.status !== 200) failures.push(`${what}: ${response.status} ${await response.text()}`);
    return response;
  };
  const loop = async () => {
    while (!stop) {
      const issued = await expectOk('token', await postWithBasic(`${server.issuer}/token`, machine, { grant_type: 'client_credentials', resource: api, scope: 'read' }));
      const token = issued.status === 200 ? ((await issued.json()) as { access_token: string }).access_token : undefined;
      await (await expectOk('discovery', await fetch(`${server.issuer}/.well-known/openid-configuration`))).arrayBuffer();
      const published = await expectOk('jwks', await fetch(`${server.issuer}/jwks`));
      if (token === undefined || published.status !== 200) continue;
      if (!(await verifies(token, (await published.json()) as JSONWebKeySet, api))) failures.push(`token signed by ${kidOf(token)} does not verify`);
      signers.add(kidOf(token)!);
      rounds += 1;
    }
  };
  const rotations = (async () => {
    await sleep(700);
    await rotateKeys(server.deps, testActor, { activationDelay: 0 });
    await sleep(1000);
    await rotateKeys(server.deps, testActor, { activationDelay: 1 });
    await sleep(1500);
    stop = true;
  })();
  await Promise.all([rotations, ...Array.from({ length: 6 }, loop)]);

  t.deepEqual(failures, []);
  t.true(signers.size >= 2, `${rounds} rounds; tokens were signed by ${[...signers].join(', ')}`);
});

test.serial('once their retirement passes, keys leave the JWKS and lose their private half, and old cookie secrets go', async (t) => {
  const keys = await listKeys(server.deps);
  const active = keys.filter((key) => key.state === 'active').map((key) => key.kid).sort();
  t.is(active.length, 2);
  const cookieSecrets = await listCookieSecrets(server.deps.db.knex);
  t.true(cookieSecrets.length > 1);
  const last = Math.max(...[...keys, ...cookieSecrets].map((entry) => entry.retiresAt?.getTime() ?? 0));

  try {
    advanceClock((last - Date.now()) / 1000 + 1);
    // The retirement job (every 500 ms here) destroys them; every node then rebuilds its provider.
    t.true(await eventually(async () => JSON.stringify((await publishedKids()).sort()) === JSON.stringify(active)), 'only the active keys are published');
    const rows = await listSigningKeys(server.deps.db.knex);
    t.deepEqual(
      rows.filter((row) => row.sealedPrivateJwk !== null).map((row) => row.kid).sort(),
      active,
      'every retired key lost its private half',
    );
    t.true((await listKeys(server.deps)).every((key) => active.includes(key.kid) || key.state === 'retired'));
    const remaining = await listCookieSecrets(server.deps.db.knex);
    t.deepEqual(
      remaining.map((secret) => secret.id),
      [cookieSecrets[0]!.id],
      'only the newest cookie secret is left',
    );
  } finally {
    resetClock();
  }
  t.truthy(kidOf(await accessToken()), 'the server still signs');
});
