import test, { type ExecutionContext } from 'ava';
import * as oidc from 'openid-client';
import { listUserGrants, revokeGrant } from '../../src/domain/grants.js';
import { testActor } from '../helpers/actor.js';
import { Browser } from '../helpers/browser.js';
import {
  authorizationRequest,
  createTestUser,
  go,
  isConsentPage,
  isLoginPage,
  redeem,
  registerRp,
  submitConsent,
  submitLogin,
  type RelyingParty,
  type Step,
  type TestUser,
} from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

/** Starts an authorization request in `browser` and signs in if asked: the page after that. */
async function signInFor(browser: Browser, rp: RelyingParty, user: TestUser, scope: string) {
  const request = await authorizationRequest(rp, { scope });
  let step = await go(browser, rp, request.url);
  if (isLoginPage(step)) step = await submitLogin(browser, rp, step, user);
  return { request, step };
}

function landedOnCallback(t: ExecutionContext, rp: RelyingParty, step: Step) {
  t.true(step.url.href.startsWith(rp.redirectUri), `expected the app's callback, got ${step.url.href}:\n${step.html}`);
}

/** Signs in and allows everything asked, in a browser of its own. */
async function consentOnce(rp: RelyingParty, user: TestUser, scope: string) {
  const browser = new Browser();
  const { request, step } = await signInFor(browser, rp, user, scope);
  if (!isConsentPage(step)) throw new Error(`no consent page:\n${step.html}`);
  const done = await submitConsent(browser, rp, step);
  return { browser, tokens: await redeem(rp, done.url, request) };
}

async function grantsFor(user: TestUser, rp: RelyingParty) {
  return (await listUserGrants(server.deps, user.id)).filter((grant) => grant.clientId === rp.clientId);
}

const scopes = (value: string | undefined) => new Set(value?.split(' '));

test('consent is remembered: signing in again from a new browser with the same scopes asks nothing', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  await consentOnce(rp, user, 'openid profile');

  const { request, step } = await signInFor(new Browser(), rp, user, 'openid profile');
  t.false(isConsentPage(step), 'no consent page the second time');
  landedOnCallback(t, rp, step);
  const tokens = await redeem(rp, step.url, request);
  t.deepEqual(scopes(tokens.scope), scopes('openid profile'));
  t.is((await oidc.fetchUserInfo(rp.config, tokens.access_token, user.id)).name, user.name);
  t.is((await grantsFor(user, rp)).length, 1, 'the grant given before is used again, not copied');

  // It is this user's consent: someone else is asked.
  const stranger = await createTestUser(server);
  const theirs = await signInFor(new Browser(), rp, stranger, 'openid profile');
  t.true(isConsentPage(theirs.step));
});

test('an app asking for a scope not granted yet gets a consent page listing only the new one', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server, { name: 'Growing app' });
  await consentOnce(rp, user, 'openid profile');

  const browser = new Browser();
  const { request, step } = await signInFor(browser, rp, user, 'openid profile email');
  t.true(isConsentPage(step), step.html);
  t.true(step.html.includes('Growing app</strong> also wants to:'), step.html);
  t.true(step.html.includes('See your email address'));
  t.false(step.html.includes('See your name'), 'profile was granted before');
  t.false(step.html.includes('Know who you are'), 'openid was granted before');

  const done = await submitConsent(browser, rp, step);
  const tokens = await redeem(rp, done.url, request);
  t.deepEqual(scopes(tokens.scope), scopes('openid profile email'));
  t.is((await oidc.fetchUserInfo(rp.config, tokens.access_token, user.id)).email, user.email);
  const grants = await grantsFor(user, rp);
  t.is(grants.length, 1, 'one grant per user and app, grown by the new scope');
  t.deepEqual(scopes(grants[0]?.scope), scopes('openid profile email'));
});

test('after the grant is revoked the app has to ask again, in a new browser and in the one that consented', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server, { name: 'Revoked app' });
  const { browser } = await consentOnce(rp, user, 'openid profile');
  const [grant] = await grantsFor(user, rp);
  await revokeGrant(server.deps, testActor, grant!.grantId);

  const fresh = await signInFor(new Browser(), rp, user, 'openid profile');
  t.true(isConsentPage(fresh.step), fresh.step.html);
  t.true(fresh.step.html.includes('Revoked app</strong> is asking to:'), fresh.step.html);
  t.true(fresh.step.html.includes('See your name'));

  const again = await signInFor(browser, rp, user, 'openid profile');
  t.true(isConsentPage(again.step), again.step.html);
});

test('an app that asks again with prompt=consent for what it has gets a page saying so, and Allow signs the user in', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server, { name: 'Careful app' });
  const { browser } = await consentOnce(rp, user, 'openid profile');

  const request = await authorizationRequest(rp, { scope: 'openid profile', prompt: 'consent' });
  const step = await go(browser, rp, request.url);
  t.true(isConsentPage(step), step.html);
  t.true(step.html.includes('Careful app</strong> asks you to confirm the access you allowed it before.'), step.html);
  t.false(step.html.includes('class="permissions"'), 'no empty list');
  const done = await submitConsent(browser, rp, step);
  landedOnCallback(t, rp, done);
  t.deepEqual(scopes((await redeem(rp, done.url, request)).scope), scopes('openid profile'));
});
