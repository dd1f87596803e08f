import test from 'ava';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { loadConfig } from '../../src/config.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { adminResourceIdentifier, ADMIN_SCOPE } from '../../src/domain/admin-access.js';
import { createClient } from '../../src/domain/clients.js';
import { createUser } from '../../src/domain/users.js';
import { testActor } from '../helpers/actor.js';
import { Browser } from '../helpers/browser.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli, spawnServer, waitUntilServing, type ServerProcess } from '../helpers/processes.js';
import { POST_LOGOUT_URI, postWithBasic, redeem, REDIRECT_URI, signIn, type RelyingParty } from '../helpers/rp.js';
import { freePort, testEnv } from '../helpers/server.js';

// Two `latchkey serve` processes over one PostgreSQL, as behind a load balancer: one public
// issuer (node A's address), each node on a port of its own. The relying party's requests go
// to whichever node the test names, as a load balancer would send them.
let database: TestDatabase | undefined;
const nodes: ServerProcess[] = [];
let deps: Deps | undefined;
let issuer: string;
let nodeA: ServerProcess;
let nodeB: ServerProcess;

test.before(async () => {
  database = await createTestDatabase();
  const portA = await freePort();
  let portB = await freePort();
  while (portB === portA) portB = await freePort();
  issuer = `http://127.0.0.1:${portA}`;
  // Started at the same moment on an empty database (concurrent-start.test.ts checks that
  // this makes one key set and runs the migrations once).
  nodeA = spawnServer({ ...database.env, ISSUER: issuer }, portA);
  nodeB = spawnServer({ ...database.env, ISSUER: issuer }, portB);
  nodes.push(nodeA, nodeB);
  await Promise.all(nodes.map((node) => waitUntilServing(node)));
  deps = await createDeps(loadConfig({ ...testEnv, ...database.env, ISSUER: issuer }));
});

test.after.always(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
  await deps?.db.close();
  await database?.drop();
});

function own(): Deps {
  if (!deps) throw new Error('the nodes did not start');
  return deps;
}

/** The same client, its requests sent to `node`: the issuer's endpoints at that node's address. */
async function clientOn(node: ServerProcess, clientId: string, clientSecret: string | undefined): Promise<RelyingParty> {
  // That node's own discovery document, which names the shared issuer and its endpoints.
  const response = await fetch(`${node.issuer}/.well-known/openid-configuration`);
  const metadata = (await response.json()) as Record<string, unknown>;
  if (metadata.issuer !== issuer) throw new Error(`${node.issuer} names the issuer ${String(metadata.issuer)}`);
  for (const [name, value] of Object.entries(metadata)) {
    if (typeof value === 'string' && value.startsWith(`${issuer}/`)) metadata[name] = `${node.issuer}${value.slice(issuer.length)}`;
  }
  const config = new oidc.Configuration(metadata as oidc.ServerMetadata, clientId, undefined, clientSecret ? oidc.ClientSecretBasic(clientSecret) : oidc.None());
  oidc.allowInsecureRequests(config);
  return { config, clientId, clientSecret, redirectUri: REDIRECT_URI };
}

async function jwks(node: ServerProcess): Promise<JSONWebKeySet> {
  const response = await fetch(`${node.issuer}/jwks`);
  return (await response.json()) as JSONWebKeySet;
}

async function eventually<T>(ask: () => Promise<T>, done: (answer: T) => boolean): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const answer = await ask();
    if (done(answer) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('both nodes started together publish the same keys', async (t) => {
  const [a, b] = await Promise.all([jwks(nodeA), jwks(nodeB)]);
  t.deepEqual(a.keys.map((key) => key.kid).sort(), b.keys.map((key) => key.kid).sort());
  t.is(a.keys.length, 2);
});

test('a user signs in on A, B redeems, A refreshes, B introspects, A revokes and B agrees; after a key rotation on A, B verifies what A signs', async (t) => {
  const password = 'correct horse battery staple';
  const user = await createUser(own(), testActor, { email: `multi-node-${Date.now()}@example.com`, password, name: 'Multi Node', emailVerified: true });
  const { client, clientSecret } = await createClient(own(), testActor, { name: 'Two-node RP', redirectUris: [REDIRECT_URI], postLogoutRedirectUris: [POST_LOGOUT_URI] });
  const [onA, onB] = await Promise.all([clientOn(nodeA, client.clientId, clientSecret), clientOn(nodeB, client.clientId, clientSecret)]);

  const browser = new Browser();
  const { callback, request } = await signIn(browser, onA, { email: user.email, password }, { scope: 'openid profile email offline_access', prompt: 'consent' });
  const tokens = await redeem(onB, callback, request);
  t.is(tokens.claims()?.sub, user.id);
  t.truthy(tokens.refresh_token);

  const refreshed = await oidc.refreshTokenGrant(onA.config, tokens.refresh_token!);
  t.not(refreshed.refresh_token, tokens.refresh_token);
  const introspected = await oidc.tokenIntrospection(onB.config, refreshed.access_token);
  t.true(introspected.active);
  t.is(introspected.sub, user.id);

  await oidc.tokenRevocation(onA.config, refreshed.refresh_token!, { token_type_hint: 'refresh_token' });
  t.false((await oidc.tokenIntrospection(onB.config, refreshed.refresh_token!)).active);
  t.false((await oidc.tokenIntrospection(onB.config, refreshed.access_token)).active);

  const rotation = await runCli(['keys', 'rotate', '--delay', '0s', '--json'], database!.env);
  t.is(rotation.code, 0, rotation.stderr);
  const rotated = (JSON.parse(rotation.stdout) as { rotated: Array<{ kid: string; alg: string }> }).rotated;
  const newKid = rotated.find((key) => key.alg === 'RS256')?.kid;
  t.truthy(newKid);

  // The browser's session on A signs in again without a page; A signs the ID token once its
  // change feed has seen the rotation.
  const idTokenFromA = async () => {
    const again = await signIn(browser, onA, { email: user.email, password });
    return (await redeem(onA, again.callback, again.request)).id_token!;
  };
  const signed = await eventually(idTokenFromA, (idToken) => decodeProtectedHeader(idToken).kid === newKid);
  t.is(decodeProtectedHeader(signed).kid, newKid);

  const published = await eventually(
    () => jwks(nodeB),
    (set) => set.keys.some((key) => key.kid === newKid),
  );
  const { payload } = await jwtVerify(signed, createLocalJWKSet(published), { issuer, audience: client.clientId });
  t.is(payload.sub, user.id);
});

test('a client deleted through the admin API on A gets invalid_client on B', async (t) => {
  const admin = await createClient(own(), testActor, { name: 'Admin script', grantTypes: ['client_credentials'], adminAccess: true });
  const adminOnA = await clientOn(nodeA, admin.client.clientId, admin.clientSecret);
  const { access_token: adminToken } = await oidc.clientCredentialsGrant(adminOnA.config, { scope: ADMIN_SCOPE, resource: adminResourceIdentifier(own().config) });

  const doomed = await createClient(own(), testActor, { name: 'Doomed service', grantTypes: ['client_credentials'] });
  const credentials = { clientId: doomed.client.clientId, clientSecret: doomed.clientSecret };
  const tokenOnB = async () => {
    const response = await postWithBasic(`${nodeB.issuer}/token`, credentials, { grant_type: 'client_credentials' });
    return { status: response.status, error: ((await response.json()) as { error?: string }).error };
  };
  // B has now read the client and keeps it in its cache.
  t.is((await tokenOnB()).status, 200);

  const deletion = await fetch(`${nodeA.issuer}/admin/api/v1/clients/${encodeURIComponent(doomed.client.clientId)}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${adminToken}` },
  });
  t.is(deletion.status, 204);

  const after = await eventually(tokenOnB, (answer) => answer.status !== 200);
  t.is(after.status, 401);
  t.is(after.error, 'invalid_client');
});
