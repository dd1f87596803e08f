import test from 'ava';
import { createClient } from '../../src/domain/clients.js';
import { createUpstreamProvider } from '../../src/domain/upstream-providers.js';
import { findUserByEmail, updateUser } from '../../src/store/users.js';
import { testActor } from '../helpers/actor.js';
import { findForm, openPage } from '../helpers/browser.js';
import { authorizationRequest, createTestUser, go, isConsentPage, isLoginPage, redeem, registerRp, submitConsent, submitLogin, type RelyingParty, type Step, type TestUser } from '../helpers/rp.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { continueWith, SitesBrowser, startTamperingProxy, throughUpstream, type TamperingProxy } from './support.js';

// Latchkey signs people in through an upstream OpenID provider, here a second Latchkey on
// another port, reached through a proxy that can tamper with its ID tokens.

interface Setup {
  server: TestServer;
  upstream: TestServer;
  proxy: TamperingProxy;
  rp: RelyingParty;
}

let setup: Setup;

async function registerUpstream(server: TestServer, upstream: TestServer, id: string, emailDomains: string[] = []) {
  const { client, clientSecret } = await createClient(upstream.deps, testActor, {
    name: `Latchkey ${id}`,
    redirectUris: [`${server.issuer}/upstream/${id}/callback`],
    postLogoutRedirectUris: [],
    // The upstream's own consent page is not what these tests are about.
    firstParty: true,
  });
  await createUpstreamProvider(server.deps, testActor, { id, kind: 'oidc', name: 'Corp', issuer: upstream.issuer, clientId: client.clientId, clientSecret: clientSecret!, emailDomains });
}

test.before(async () => {
  const server = await startTestServer({ LATCHKEY_SIGNUP: 'true' });
  // The upstream's issuer is the proxy's address: every request to it, the browser's and Latchkey's, goes through the proxy.
  const proxyPort = await freePort();
  const upstream = await startTestServer({ ISSUER: `http://127.0.0.1:${proxyPort}` });
  const proxy = await startTamperingProxy(proxyPort, () => ({ host: '127.0.0.1', port: upstream.config.http.port }));
  await registerUpstream(server, upstream, 'corp', ['hrd.example']);
  setup = { server, upstream, proxy, rp: await registerRp(server) };
});

test.after.always(async () => {
  await setup?.proxy.close();
  await Promise.all([setup?.server.dispose(), setup?.upstream.dispose()]);
});

async function identitiesOf(server: TestServer, userId: string) {
  return server.deps.db.knex('upstream_identities').where({ user_id: userId });
}

async function auditOf(server: TestServer, type: string) {
  return server.deps.db.knex('audit_events').where({ type }).orderBy('id', 'desc');
}

/** RP -> Latchkey's login page -> Continue with Corp -> the upstream's login -> back. */
async function federatedSignIn(browser: SitesBrowser, upstreamUser: { email: string; password: string }, providerId = 'corp') {
  const { rp } = setup;
  const request = await authorizationRequest(rp);
  const login = await go(browser, rp, request.url);
  const upstreamLogin = await continueWith(browser, rp, login, providerId);
  return { request, step: await throughUpstream(browser, rp, upstreamLogin, upstreamUser) };
}

async function finish(browser: SitesBrowser, step: Step) {
  let next = step;
  if (isConsentPage(next)) next = await submitConsent(browser, setup.rp, next);
  if (!next.url.href.startsWith(setup.rp.redirectUri)) throw new Error(`did not reach the RP: ${next.url.href} (${next.response.status})\n${next.html}`);
  return next;
}

test.serial('first sign-in through the upstream creates the user and the identity; the next one reuses them', async (t) => {
  const { server, upstream } = setup;
  const person = await createTestUser(upstream);
  const browser = new SitesBrowser();
  const { request, step } = await federatedSignIn(browser, person);
  const callback = await finish(browser, step);
  const tokens = await redeem(setup.rp, callback.url, request);
  const user = await findUserByEmail(server.deps.db.knex, person.email);
  t.truthy(user);
  t.is(tokens.claims()!.sub, user!.id, 'the ID token names the new local user');
  t.deepEqual(tokens.claims()!.amr, ['fed']);
  t.is(tokens.claims()!.acr, 'urn:latchkey:acr:single-factor');
  t.is(user!.createdVia, 'upstream');
  t.true(user!.emailVerified);
  t.is(user!.passwordHash, null);
  const identities = await identitiesOf(server, user!.id);
  t.is(identities.length, 1);
  t.is(identities[0].provider_id, 'corp');
  t.is(identities[0].email, person.email);
  t.truthy((await auditOf(server, 'user.created')).find((row: { subject_id: string }) => row.subject_id === user!.id));

  // Another day, another browser: the identity signs the same user in, and nothing new is made.
  const again = new SitesBrowser();
  const second = await federatedSignIn(again, person);
  const tokensAgain = await redeem(setup.rp, (await finish(again, second.step)).url, second.request);
  t.is(tokensAgain.claims()!.sub, user!.id);
  const after = await identitiesOf(server, user!.id);
  t.is(after.length, 1);
  t.truthy(after[0].last_used_at);
});

test.serial('an upstream address of an existing account links only after that account signs in with its password', async (t) => {
  const { server, upstream } = setup;
  const person = await createTestUser(upstream);
  const local = await createTestUser(server, { email: person.email });
  const browser = new SitesBrowser();
  const { request, step } = await federatedSignIn(browser, person);
  t.true(isLoginPage(step), 'back on Latchkey’s login page');
  t.true(step.html.includes('id="link-notice"'));
  t.true(step.html.includes(person.email));
  t.true(step.html.includes('Corp'));
  t.regex(step.html, new RegExp(`name="email"[^>]*value="${person.email.replace('.', '\\.')}"`), 'the address is filled in');
  t.is((await identitiesOf(server, local.id)).length, 0, 'nothing is linked on the upstream’s word');

  const wrong = await submitLogin(browser, setup.rp, step, { email: local.email, password: 'not-the-password' });
  t.is(wrong.response.status, 401);
  t.is((await identitiesOf(server, local.id)).length, 0, 'a wrong password links nothing');

  const proven = await submitLogin(browser, setup.rp, { ...step, html: wrong.html }, local);
  const callback = await finish(browser, proven);
  const tokens = await redeem(setup.rp, callback.url, request);
  t.is(tokens.claims()!.sub, local.id);
  t.deepEqual(tokens.claims()!.amr, ['pwd'], 'the account was proven with its password');
  const identities = await identitiesOf(server, local.id);
  t.is(identities.length, 1);
  t.is(identities[0].provider_id, 'corp');

  // From now on the upstream alone signs in to the linked account.
  const later = new SitesBrowser();
  const next = await federatedSignIn(later, person);
  t.is((await redeem(setup.rp, (await finish(later, next.step)).url, next.request)).claims()!.sub, local.id);
});

test.serial('a forged state ends on the error page, audited, with nothing created', async (t) => {
  const { server } = setup;
  const users = Number((await server.deps.db.knex('users').count('* as n').first())!.n);
  const browser = new SitesBrowser();
  const page = await openPage(browser, `${server.issuer}/upstream/corp/callback?code=stolen&state=forged-state`);
  t.is(page.status, 400);
  t.true(page.html.includes('This sign-in answer is not valid'));
  t.false(/^\s+at /m.test(page.html), 'no stack trace');
  t.is(Number((await server.deps.db.knex('users').count('* as n').first())!.n), users);
  const [audit] = await auditOf(server, 'upstream.sign_in_failed');
  t.is(audit.outcome, 'failure');
  t.is(audit.details.reason, 'state_invalid');
});

test.serial('a trip started in one browser cannot end in another: a crafted link carrying the victim\'s code signs no one in', async (t) => {
  const { server, upstream, rp } = setup;
  const victim = await createTestUser(upstream);
  // The attacker starts a sign-in and stops at the upstream's authorization URL, with their state.
  const attacker = new SitesBrowser();
  const login = await go(attacker, rp, (await authorizationRequest(rp)).url);
  const form = findForm(login.html, '/upstream/corp');
  const started = await attacker.post(new URL(form.action, login.url), form.fields);
  t.is(started.status, 303);
  const lure = new URL(started.headers.get('location')!);
  // The victim follows the link, signs in upstream, and is sent back with a code for the attacker's state.
  const browser = new SitesBrowser();
  const step = await throughUpstream(browser, rp, await go(browser, rp, lure), victim);
  t.is(step.response.status, 400);
  t.true(step.html.includes('This sign-in answer is not valid'));
  t.is(await findUserByEmail(server.deps.db.knex, victim.email), undefined);
  const [audit] = await auditOf(server, 'upstream.sign_in_failed');
  t.is(audit.details.reason, 'state_invalid');
  // The trip is still the attacker's, and holds no answer for them to pick up.
  const pickUp = await attacker.request(new URL(`${login.url.pathname.replace(/\/$/, '')}/upstream`, server.issuer));
  t.not(pickUp.status, 303);
});

test.serial('a tampered upstream ID token ends on the error page with nothing created', async (t) => {
  const { server, upstream, proxy } = setup;
  const person = await createTestUser(upstream);
  const browser = new SitesBrowser();
  proxy.tamper = true;
  let step: Step;
  try {
    ({ step } = await federatedSignIn(browser, person));
  } finally {
    proxy.tamper = false;
  }
  t.is(step.response.status, 502);
  t.true(step.html.includes('could not be verified'));
  t.truthy(/href="\/interaction\/[^"]+"/.exec(step.html), 'a way back to the login page');
  t.is(await findUserByEmail(server.deps.db.knex, person.email), undefined);
  const [audit] = await auditOf(server, 'upstream.sign_in_failed');
  t.is(audit.details.reason, 'id_token_invalid', audit.details.detail);
});

test.serial('cancelling at the upstream ends on the error page with a way back to the login page', async (t) => {
  const { server, rp } = setup;
  const browser = new SitesBrowser();
  const login = await go(browser, rp, (await authorizationRequest(rp)).url);
  const upstreamLogin = await continueWith(browser, rp, login, 'corp');
  const abort = findForm(upstreamLogin.html, '/abort');
  const response = await browser.post(new URL(abort.action, upstreamLogin.url), abort.fields);
  const denied = await go(browser, rp, new URL(response.headers.get('location')!, upstreamLogin.url));
  t.is(denied.response.status, 400);
  t.true(denied.html.includes('cancelled or refused'));
  const back = /href="(\/interaction\/[^"]+)"/.exec(denied.html)![1]!;
  const again = await go(browser, rp, new URL(back, server.issuer));
  t.true(isLoginPage(again), 'the way back is the login page of the same sign-in');
  const [audit] = await auditOf(server, 'upstream.sign_in_failed');
  t.is(audit.details.reason, 'denied');
});

test.serial('an upstream that does not answer ends on the error page', async (t) => {
  const { server, rp } = setup;
  const closed = await freePort();
  await createUpstreamProvider(server.deps, testActor, { id: 'down', kind: 'oidc', name: 'Down', issuer: `http://127.0.0.1:${closed}`, clientId: 'x', clientSecret: 'y' });
  try {
    const browser = new SitesBrowser();
    const login = await go(browser, rp, (await authorizationRequest(rp)).url);
    t.true(login.html.includes('Continue with <span translate="no">Down</span>'));
    const failed = await continueWith(browser, rp, login, 'down');
    t.is(failed.response.status, 502);
    t.true(failed.html.includes('could not be reached'));
    t.truthy(/href="\/interaction\/[^"]+"/.exec(failed.html));
    const [audit] = await auditOf(server, 'upstream.sign_in_failed');
    t.is(audit.details.reason, 'upstream_unreachable');
  } finally {
    await server.deps.db.knex('upstream_providers').where({ id: 'down' }).delete();
  }
});

test.serial('an address at a mapped domain goes straight to its provider (home-realm discovery)', async (t) => {
  const { server, upstream, rp } = setup;
  const person = await createTestUser(upstream, { email: `alice-${Date.now()}@hrd.example` });
  const browser = new SitesBrowser();
  const request = await authorizationRequest(rp);
  const login = await go(browser, rp, request.url);
  const form = findForm(login.html, '/login');
  const posted = await browser.post(new URL(form.action, login.url), { ...form.fields, email: person.email, password: '' });
  t.is(posted.status, 303);
  const location = new URL(posted.headers.get('location')!);
  t.is(location.origin, setup.proxy.url, 'sent to the upstream');
  t.is(location.searchParams.get('login_hint'), person.email);
  const upstreamLogin = await go(browser, rp, location);
  t.true(upstreamLogin.html.includes(person.email), 'the upstream got the address as a hint');
  const step = await throughUpstream(browser, rp, upstreamLogin, person);
  const tokens = await redeem(rp, (await finish(browser, step)).url, request);
  const user = await findUserByEmail(server.deps.db.knex, person.email);
  t.is(tokens.claims()!.sub, user!.id);
});

test.serial('with sign-up off, an unknown upstream user gets a clear page and no account', async (t) => {
  const { upstream } = setup;
  const closedServer = await startTestServer();
  try {
    await registerUpstream(closedServer, upstream, 'corp');
    const rp = await registerRp(closedServer);
    const person = await createTestUser(upstream);
    const browser = new SitesBrowser();
    const login = await go(browser, rp, (await authorizationRequest(rp)).url);
    const step = await throughUpstream(browser, rp, await continueWith(browser, rp, login, 'corp'), person);
    t.is(step.response.status, 403);
    t.true(step.html.includes('new accounts cannot be created'));
    t.is(await findUserByEmail(closedServer.deps.db.knex, person.email), undefined);
    t.is(Number((await closedServer.deps.db.knex('upstream_identities').count('* as n').first())!.n), 0);
  } finally {
    await closedServer.dispose();
  }
});

/** Signs in to the account page through the upstream (the upstream session is still there). */
async function accountThroughUpstream(browser: SitesBrowser, person: TestUser) {
  const { server } = setup;
  const fakeRp = { redirectUri: 'https://never.example/' } as RelyingParty;
  const login = await go(browser, fakeRp, `${server.issuer}/account/security`);
  const step = await throughUpstream(browser, fakeRp, await continueWith(browser, fakeRp, login, 'corp'), person);
  return step;
}

test.serial('linked accounts are listed on the security page; the last way in cannot be unlinked', async (t) => {
  const { server, upstream } = setup;
  const person = await createTestUser(upstream);
  const browser = new SitesBrowser();
  const page = await accountThroughUpstream(browser, person);
  t.is(page.response.status, 200);
  t.true(page.html.includes('Linked accounts'));
  t.true(page.html.includes(person.email));
  const user = (await findUserByEmail(server.deps.db.knex, person.email))!;
  const [identity] = await identitiesOf(server, user.id);

  const unlink = findForm(page.html, `/security/identities/${identity.id}/unlink`);
  const refused = await browser.post(new URL(unlink.action, server.issuer), unlink.fields);
  t.is(refused.status, 303);
  const after = await openPage(browser, `${server.issuer}/account/security`);
  t.true(after.html.includes('This is the only way to sign in to your account'));
  t.is((await identitiesOf(server, user.id)).length, 1);

  // The user sets a password (straight in the database: an admin's reset would end this session).
  await updateUser(server.deps.db.knex, user.id, { passwordHash: await server.deps.passwords.hash('a-long-enough-password-42') });
  const form = findForm(after.html, `/security/identities/${identity.id}/unlink`);
  await browser.post(new URL(form.action, server.issuer), form.fields);
  const done = await openPage(browser, `${server.issuer}/account/security`);
  t.true(done.html.includes('was unlinked'));
  t.is((await identitiesOf(server, user.id)).length, 0);
  const [audit] = await auditOf(server, 'user.identity_unlinked');
  t.is(audit.subject_id, user.id);
});
