import test from 'ava';
import * as oidc from 'openid-client';
import { loadConfig } from '../../src/config.js';
import { createClient } from '../../src/domain/clients.js';
import { listUserGrants } from '../../src/domain/grants.js';
import { createUser } from '../../src/domain/users.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { testActor } from '../helpers/actor.js';
import { Browser, findForm } from '../helpers/browser.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { spawnServer, waitUntilServing, type ServerProcess } from '../helpers/processes.js';
import { authorizationRequest, go, isConsentPage, isLoginPage, redeem, REDIRECT_URI, submitConsent, type RelyingParty } from '../helpers/rp.js';
import { freePort, testEnv } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

// Two `latchkey serve` processes on one PostgreSQL behind a load balancer (a TCP proxy): one
// public issuer, the proxy's address. The browser and the relying party only ever talk to it;
// the test decides which node it forwards to, as a load balancer's health checks would.
let database: TestDatabase;
let balancer: TcpProxy;
let issuer: string;
let env: Record<string, string>;
const nodes: ServerProcess[] = [];
let setup: Deps;

test.before(async () => {
  database = await createTestDatabase();
  const portA = await freePort();
  let portB = await freePort();
  while (portB === portA) portB = await freePort();
  balancer = await startTcpProxy(`http://127.0.0.1:${portA}`);
  issuer = `http://127.0.0.1:${new URL(balancer.url).port}`;
  // Every node shares the issuer, the database and the master key (testEnv's LATCHKEY_SECRET).
  env = { ...database.env, ISSUER: issuer };
  nodes.push(spawnServer(env, portA), spawnServer(env, portB));
  await Promise.all(nodes.map((node) => waitUntilServing(node)));
  setup = await createDeps(loadConfig({ ...testEnv, ...env }));
});

test.after.always(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
  await setup?.db.close();
  await balancer?.close();
  await database?.drop();
});

async function relyingParty(clientId: string, clientSecret: string | undefined): Promise<RelyingParty> {
  const config = await oidc.discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(clientSecret ?? ''), { execute: [oidc.allowInsecureRequests] });
  return { config, clientId, clientSecret, redirectUri: REDIRECT_URI };
}

/**
 * Points the balancer at `node` and waits until a request through it is answered there. A
 * connection the test process kept open to the dead node can fail one request first, as a
 * browser's would; the browser would retry it.
 */
async function switchTo(node: ServerProcess): Promise<void> {
  balancer.retarget(node.issuer);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answered = await fetch(`${issuer}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (answered) return;
    if (Date.now() > deadline) throw new Error(`${node.issuer} did not answer through the balancer`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a node killed in the middle of a sign-in: the user finishes on the other node, and on the node restarted', async (t) => {
  const [a, b] = nodes as [ServerProcess, ServerProcess];
  const password = 'correct horse battery staple 2';
  const user = await createUser(setup, testActor, { email: 'killed@example.com', password, name: 'Killed', emailVerified: true });
  const { client, clientSecret } = await createClient(setup, testActor, { name: 'Kill RP', redirectUris: [REDIRECT_URI] });
  const rp = await relyingParty(client.clientId, clientSecret);
  const browser = new Browser();

  // On A: authorize, and the login form is submitted; the session is established.
  const request = await authorizationRequest(rp, { scope: 'openid profile email offline_access', prompt: 'consent' });
  const loginPage = await go(browser, rp, request.url);
  t.true(isLoginPage(loginPage));
  const form = findForm(loginPage.html, '/login');
  const loggedIn = await browser.post(new URL(form.action, loginPage.url), { ...form.fields, email: user.email, password });
  t.is(loggedIn.status, 303);
  const next = loggedIn.headers.get('location')!;

  await a.kill();
  await switchTo(b);

  // On B, with the same cookies: the authorization resumes, the consent page shows, the code comes.
  const consentPage = await go(browser, rp, new URL(next, issuer));
  t.true(isConsentPage(consentPage), `B answered ${consentPage.response.status}:\n${consentPage.html}`);
  const callback = await submitConsent(browser, rp, consentPage);
  t.true(callback.url.href.startsWith(REDIRECT_URI));
  const tokens = await redeem(rp, callback.url, request);
  t.is(tokens.claims()?.sub, user.id);
  t.truthy(tokens.refresh_token);

  // The session is kept: a silent authorization on B signs the user in again.
  const silent = await authorizationRequest(rp, { prompt: 'none' });
  const again = await go(browser, rp, silent.url);
  t.is(again.url.searchParams.get('error'), null, again.url.href);
  t.is((await redeem(rp, again.url, silent)).claims()?.sub, user.id);

  // And the grant the user gave is in the database.
  const grants = await listUserGrants(setup, user.id);
  t.deepEqual(
    grants.map((grant) => grant.clientId),
    [client.clientId],
  );

  // A restarted on its port serves the same session, and refreshes the tokens B issued; B is
  // stopped, so that only A can answer.
  const restarted = spawnServer(env, a.port);
  nodes.push(restarted);
  await waitUntilServing(restarted);
  await b.stop();
  await switchTo(restarted);
  const onA = await authorizationRequest(rp, { prompt: 'none' });
  const back = await go(browser, rp, onA.url);
  t.is(back.url.searchParams.get('error'), null, back.url.href);
  t.is((await redeem(rp, back.url, onA)).claims()?.sub, user.id);
  const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
  t.truthy(refreshed.access_token);
});
