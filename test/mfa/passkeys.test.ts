import test from 'ava';
import type { AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { ACR_MULTI_FACTOR } from '../../src/domain/authentication-context.js';
import { listAuditEvents } from '../../src/domain/audit.js';
import { disableUser } from '../../src/domain/users.js';
import { runCleanup } from '../../src/jobs/cleanup.js';
import { testActor } from '../helpers/actor.js';
import { Browser, findForm, openPage, signInThrough, type Page } from '../helpers/browser.js';
import { authorizationRequest, createTestUser, go, isConsentPage, redeem, registerRp, submitConsent, submitLogin, type RelyingParty, type Step, type TestUser } from '../helpers/rp.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { SoftwareAuthenticator } from '../helpers/software-authenticator.js';

let server: TestServer;
let rp: RelyingParty;

test.before(async () => {
  // Browsers refuse an IP address as a relying party id: the issuer is on localhost.
  const port = await freePort();
  server = await startTestServer({ PORT: String(port), ISSUER: `http://localhost:${port}` });
  rp = await registerRp(server);
});

test.after.always(async () => {
  await server?.dispose();
});

const url = (path: string) => `${server.issuer}${path}`;
const authenticatorFor = (options: { synced?: boolean } = {}) => new SoftwareAuthenticator({ origin: server.issuer, ...options });

/** POSTs a form's CSRF token to a passkey options endpoint, as assets/passkeys.js does, and reads the JSON. */
async function fetchOptions<T>(browser: Browser, page: { url: URL; html: string }, formAction: string, optionsPath: string): Promise<T> {
  const form = findForm(page.html, formAction);
  const response = await browser.request(new URL(optionsPath, page.url), {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: form.fields._csrf! }).toString(),
  });
  if (response.status !== 200) throw new Error(`options answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

async function postForm(browser: Browser, page: { url: URL; html: string }, formAction: string, fields: Record<string, string>): Promise<Response> {
  const form = findForm(page.html, formAction);
  return browser.post(new URL(form.action, page.url), { ...form.fields, ...fields });
}

/** Adds a passkey on the account's security page through its options endpoint and form; returns the answer to the form post. */
async function addPasskeyOnAccountPage(browser: Browser, authenticator: SoftwareAuthenticator, name: string): Promise<Response> {
  const page = await openPage(browser, url('/account/security'));
  const options = await fetchOptions<PublicKeyCredentialCreationOptionsJSON>(browser, page, '/account/security/passkeys', '/account/security/passkeys/options');
  return postForm(browser, page, '/account/security/passkeys', { credential: JSON.stringify(authenticator.register(options)), name });
}

/** A user with one passkey on `authenticator`, added on the account page. */
async function userWithPasskey(authenticator: SoftwareAuthenticator): Promise<TestUser> {
  const user = await createTestUser(server);
  const browser = new Browser();
  await signInThrough(browser, url('/account'), user);
  const answer = await addPasskeyOnAccountPage(browser, authenticator, 'Laptop');
  if (answer.status !== 200) throw new Error(`adding a passkey answered ${answer.status}`);
  return user;
}

function uidOf(step: { url: URL }): string {
  const uid = /\/interaction\/([^/]+)/.exec(step.url.pathname)?.[1];
  if (!uid) throw new Error(`not an interaction page: ${step.url.href}`);
  return uid;
}

/** Follows a form post's redirect to the RP's callback (through consent) and redeems the code. */
async function finishAtRp(browser: Browser, page: Step, answer: Response, request: Awaited<ReturnType<typeof authorizationRequest>>) {
  const location = answer.headers.get('location');
  if (answer.status !== 303 || !location) throw new Error(`expected a redirect, got ${answer.status}: ${await answer.text()}`);
  let step = await go(browser, rp, new URL(location, page.url));
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  if (!step.url.href.startsWith(rp.redirectUri)) throw new Error(`stopped at ${step.url.href}:\n${step.html}`);
  return redeem(rp, step.url, request);
}

/** Password first: the second-factor page of a new authorization request. */
async function passwordThenMfaPage(browser: Browser, user: TestUser, target = rp, params: Record<string, string> = {}) {
  const request = await authorizationRequest(target, params);
  const login = await go(browser, target, request.url);
  const mfa = await submitLogin(browser, target, login, user);
  return { request, mfa };
}

async function secondFactorAssertion(browser: Browser, mfa: Step, authenticator: SoftwareAuthenticator, overrides = {}): Promise<AuthenticationResponseJSON> {
  const uid = uidOf(mfa);
  const options = await fetchOptions<PublicKeyCredentialRequestOptionsJSON>(browser, mfa, '/mfa/passkey', `/interaction/${uid}/mfa/passkey/options`);
  return authenticator.authenticate(options, overrides);
}

/** The login page of a new authorization request and the options of its "Sign in with a passkey". */
async function passwordlessStart(browser: Browser) {
  const request = await authorizationRequest(rp);
  const login = await go(browser, rp, request.url);
  const uid = uidOf(login);
  const options = await fetchOptions<PublicKeyCredentialRequestOptionsJSON>(browser, login, `/interaction/${uid}/passkey`, `/interaction/${uid}/passkey/options`);
  return { request, login, uid, options };
}

test('a passkey is added on the account page, named, listed, and its first factor shows recovery codes once', async (t) => {
  const user = await createTestUser(server);
  const browser = new Browser();
  const security = await signInThrough(browser, url('/account/security'), user);
  t.regex(security.html, /data-passkey="create"/);
  t.regex(security.html, /<script src="\/assets\/passkeys\.js" nonce="[^"]+" defer><\/script>/);

  const authenticator = authenticatorFor({ synced: true });
  const first = await addPasskeyOnAccountPage(browser, authenticator, 'Work laptop');
  t.is(first.status, 200);
  const html = await first.text();
  t.regex(html, /codes-heading/, 'the first factor comes with recovery codes, shown on this answer');
  t.regex(html, /Work laptop/);

  // A second one, unnamed, gets a number; the codes are not shown again.
  const second = await addPasskeyOnAccountPage(browser, authenticatorFor(), '');
  t.is(second.status, 303);
  const page = await openPage(browser, url('/account/security'));
  t.regex(page.html, /Passkey 2/);
  t.notRegex(page.html, /codes-heading/);
  t.regex(page.html, /Synced between your devices/);
  t.regex(page.html, /On one device only/);

  const rows = await server.deps.db.knex('passkeys').where({ user_id: user.id }).orderBy('created_at');
  t.deepEqual(rows.map((row: { name: string }) => row.name), ['Work laptop', 'Passkey 2']);
  t.deepEqual(rows.map((row: { device_type: string }) => row.device_type), ['multiDevice', 'singleDevice']);
  const added = await listAuditEvents(server.deps, { type: 'user.factor_added', subjectId: user.id });
  t.is(added.items.length, 2);
  t.is(added.items[0]!.details.factor, 'passkey');

  // The same authenticator again: the options exclude its credential, and a forced answer is refused.
  const again = await openPage(browser, url('/account/security'));
  const options = await fetchOptions<PublicKeyCredentialCreationOptionsJSON>(browser, again, '/account/security/passkeys', '/account/security/passkeys/options');
  t.is(options.excludeCredentials?.length, 2);
  t.is(options.authenticatorSelection?.residentKey, 'required');
  t.is(options.rp.id, 'localhost');
  t.throws(() => authenticator.register(options), { message: /InvalidStateError/ });
});

test('an answer to a registration challenge is good once, and a garbled one is refused without a record', async (t) => {
  const user = await createTestUser(server);
  const browser = new Browser();
  await signInThrough(browser, url('/account'), user);
  const page = await openPage(browser, url('/account/security'));
  const options = await fetchOptions<PublicKeyCredentialCreationOptionsJSON>(browser, page, '/account/security/passkeys', '/account/security/passkeys/options');
  const credential = JSON.stringify(authenticatorFor().register(options));
  t.is((await postForm(browser, page, '/account/security/passkeys', { credential, name: 'One' })).status, 200);
  const replay = await postForm(browser, page, '/account/security/passkeys', { credential, name: 'Again' });
  t.is(replay.status, 400);
  t.regex(await replay.text(), /The passkey could not be added/);

  const garbled = await postForm(browser, page, '/account/security/passkeys', { credential: '{"id":', name: 'Broken' });
  t.is(garbled.status, 400);
  const fresh = await fetchOptions<PublicKeyCredentialCreationOptionsJSON>(browser, page, '/account/security/passkeys', '/account/security/passkeys/options');
  const longName = await postForm(browser, page, '/account/security/passkeys', { credential: JSON.stringify(authenticatorFor().register(fresh)), name: 'x'.repeat(61) });
  t.is(longName.status, 400);
  t.regex(await longName.text(), /id="passkey-name-error" role="alert">is too long</);
  t.is(Number((await server.deps.db.knex('passkeys').where({ user_id: user.id }).count('* as n').first())!.n), 1);
});

test('password then passkey: the ID token says pwd, the key, mfa, and the multi-factor acr', async (t) => {
  const authenticator = authenticatorFor();
  const user = await userWithPasskey(authenticator);
  const browser = new Browser();
  const { request, mfa } = await passwordThenMfaPage(browser, user);
  t.regex(mfa.url.pathname, /\/mfa$/);
  t.regex(mfa.html, /data-passkey="get"/);

  const assertion = await secondFactorAssertion(browser, mfa, authenticator);
  const answer = await postForm(browser, mfa, '/mfa/passkey', { credential: JSON.stringify(assertion) });
  const tokens = await finishAtRp(browser, mfa, answer, request);
  const claims = tokens.claims()!;
  t.deepEqual(claims.amr, ['pwd', 'hwk', 'mfa']);
  t.is(claims.acr, ACR_MULTI_FACTOR);
  const row = await server.deps.db.knex('passkeys').where({ user_id: user.id }).first();
  t.is(Number(row.counter), 1);
  t.truthy(row.last_used_at);
});

test('the second-factor options offer only the pending user\'s passkeys', async (t) => {
  const authenticator = authenticatorFor();
  const user = await userWithPasskey(authenticator);
  const browser = new Browser();
  const { mfa } = await passwordThenMfaPage(browser, user);
  const options = await fetchOptions<PublicKeyCredentialRequestOptionsJSON>(browser, mfa, '/mfa/passkey', `/interaction/${uidOf(mfa)}/mfa/passkey/options`);
  t.deepEqual(options.allowCredentials?.map((descriptor) => descriptor.id), authenticator.credentialIds());
});

test('"Sign in with a passkey": a synced passkey alone signs in with swk and mfa', async (t) => {
  const authenticator = authenticatorFor({ synced: true });
  const user = await userWithPasskey(authenticator);
  const browser = new Browser();
  const { request, login, uid, options } = await passwordlessStart(browser);
  t.is(options.allowCredentials, undefined, 'discoverable: the authenticator offers its passkeys');
  t.is(options.userVerification, 'required');
  const answer = await postForm(browser, login, `/interaction/${uid}/passkey`, { credential: JSON.stringify(authenticator.authenticate(options)) });
  const tokens = await finishAtRp(browser, login, answer, request);
  const claims = tokens.claims()!;
  t.is(claims.sub, user.id);
  t.deepEqual(claims.amr, ['swk', 'mfa']);
  t.is(claims.acr, ACR_MULTI_FACTOR);
});

test('a passkey without user verification does not sign in on its own', async (t) => {
  const authenticator = authenticatorFor();
  await userWithPasskey(authenticator);
  const browser = new Browser();
  const { login, uid, options } = await passwordlessStart(browser);
  const answer = await postForm(browser, login, `/interaction/${uid}/passkey`, { credential: JSON.stringify(authenticator.authenticate(options, { userVerified: false })) });
  t.is(answer.status, 401);
  t.regex(await answer.text(), /That passkey was not accepted/);
});

test('a replayed assertion and a reused challenge are refused', async (t) => {
  const authenticator = authenticatorFor();
  await userWithPasskey(authenticator);
  const browser = new Browser();
  const first = await passwordlessStart(browser);
  const assertion = authenticator.authenticate(first.options);
  const answer = await postForm(browser, first.login, `/interaction/${first.uid}/passkey`, { credential: JSON.stringify(assertion) });
  t.is(answer.status, 303);

  // A new sign-in: the old assertion again, then a fresh signature over the old (used) challenge.
  const other = new Browser();
  const second = await passwordlessStart(other);
  const replayed = await postForm(other, second.login, `/interaction/${second.uid}/passkey`, { credential: JSON.stringify(assertion) });
  t.is(replayed.status, 401);
  t.regex(await replayed.text(), /That passkey was not accepted/);
  const reused = await postForm(other, second.login, `/interaction/${second.uid}/passkey`, { credential: JSON.stringify(authenticator.authenticate(first.options)) });
  t.is(reused.status, 401);
  // The refusals did not use up this sign-in's own challenge.
  const own = await postForm(other, second.login, `/interaction/${second.uid}/passkey`, { credential: JSON.stringify(authenticator.authenticate(second.options)) });
  t.is(own.status, 303);
});

test('an assertion for another sign-in\'s challenge is refused, and that challenge still serves its own', async (t) => {
  const authenticator = authenticatorFor();
  await userWithPasskey(authenticator);
  const [alice, mallory] = [new Browser(), new Browser()];
  const theirs = await passwordlessStart(alice);
  const mine = await passwordlessStart(mallory);
  const crossed = await postForm(mallory, mine.login, `/interaction/${mine.uid}/passkey`, { credential: JSON.stringify(authenticator.authenticate(theirs.options)) });
  t.is(crossed.status, 401);
  const own = await postForm(alice, theirs.login, `/interaction/${theirs.uid}/passkey`, { credential: JSON.stringify(authenticator.authenticate(theirs.options)) });
  t.is(own.status, 303);
});

test('another user\'s passkey is refused as a second factor, counted and audited', async (t) => {
  const mine = authenticatorFor();
  const theirs = authenticatorFor();
  const user = await userWithPasskey(mine);
  await userWithPasskey(theirs);
  const browser = new Browser();
  const { mfa } = await passwordThenMfaPage(browser, user);
  const options = await fetchOptions<PublicKeyCredentialRequestOptionsJSON>(browser, mfa, '/mfa/passkey', `/interaction/${uidOf(mfa)}/mfa/passkey/options`);
  const foreign = theirs.authenticate(options, { credentialId: theirs.credentialIds()[0]! });
  const answer = await postForm(browser, mfa, '/mfa/passkey', { credential: JSON.stringify(foreign) });
  t.is(answer.status, 401);
  const html = await answer.text();
  t.regex(html, /That passkey was not accepted/);
  t.regex(html, /data-passkey="get"/, 'the second-factor page again');
  const failed = await listAuditEvents(server.deps, { type: 'user.second_factor_failed', subjectId: user.id });
  t.is(failed.items.length, 1);
  t.is(failed.items[0]!.details.method, 'passkey');
});

test('a signature counter that did not go up is refused', async (t) => {
  const authenticator = authenticatorFor();
  const user = await userWithPasskey(authenticator);
  const browser = new Browser();
  const first = await passwordThenMfaPage(browser, user);
  const ok = await postForm(browser, first.mfa, '/mfa/passkey', { credential: JSON.stringify(await secondFactorAssertion(browser, first.mfa, authenticator, { counter: 5 })) });
  await finishAtRp(browser, first.mfa, ok, first.request);

  const other = new Browser();
  const second = await passwordThenMfaPage(other, user);
  const cloned = await postForm(other, second.mfa, '/mfa/passkey', { credential: JSON.stringify(await secondFactorAssertion(other, second.mfa, authenticator, { counter: 3 })) });
  t.is(cloned.status, 401, 'a counter going backwards (a cloned key)');
  const same = await postForm(other, second.mfa, '/mfa/passkey', { credential: JSON.stringify(await secondFactorAssertion(other, second.mfa, authenticator, { counter: 5 })) });
  t.is(same.status, 401, 'a counter that stayed put');
  const row = await server.deps.db.knex('passkeys').where({ user_id: user.id }).first();
  t.is(Number(row.counter), 5);
});

test('a passkey is removed by its owner only; the last factor takes the recovery codes with it', async (t) => {
  const user = await createTestUser(server);
  const other = await createTestUser(server);
  const browser = new Browser();
  await signInThrough(browser, url('/account'), user);
  t.is((await addPasskeyOnAccountPage(browser, authenticatorFor(), 'Phone')).status, 200);
  const otherBrowser = new Browser();
  await signInThrough(otherBrowser, url('/account'), other);
  t.is((await addPasskeyOnAccountPage(otherBrowser, authenticatorFor(), 'Theirs')).status, 200);
  const [mine] = await server.deps.db.knex('passkeys').where({ user_id: user.id });
  const [theirs] = await server.deps.db.knex('passkeys').where({ user_id: other.id });

  const page: Page = await openPage(browser, url('/account/security'));
  const foreign = await browser.post(url(`/account/security/passkeys/${theirs.id}/remove`), { _csrf: findForm(page.html, `/passkeys/${mine.id}/remove`).fields._csrf! });
  t.is(foreign.status, 404);
  const nonsense = await browser.post(url('/account/security/passkeys/not-an-id/remove'), { _csrf: findForm(page.html, `/passkeys/${mine.id}/remove`).fields._csrf! });
  t.is(nonsense.status, 404);
  t.truthy(await server.deps.db.knex('passkeys').where({ id: theirs.id }).first());

  const removed = await postForm(browser, page, `/passkeys/${mine.id}/remove`, {});
  t.is(removed.status, 303);
  const after = await openPage(browser, url('/account/security'));
  t.regex(after.html, /The passkey <span translate="no">Phone<\/span> was removed|The passkey Phone was removed/);
  t.regex(after.html, /You have no passkeys yet/);
  t.is(await server.deps.db.knex('passkeys').where({ user_id: user.id }).first(), undefined);
  t.is(Number((await server.deps.db.knex('recovery_codes').where({ user_id: user.id }).count('* as n').first())!.n), 0);
  const audit = await listAuditEvents(server.deps, { type: 'user.factor_removed', subjectId: user.id });
  t.is(audit.items[0]!.details.factor, 'passkey');
});

test('a disabled user cannot sign in with a passkey', async (t) => {
  const authenticator = authenticatorFor();
  const user = await userWithPasskey(authenticator);
  await disableUser(server.deps, testActor, user.id);
  const browser = new Browser();
  const { login, uid, options } = await passwordlessStart(browser);
  const answer = await postForm(browser, login, `/interaction/${uid}/passkey`, { credential: JSON.stringify(authenticator.authenticate(options)) });
  t.is(answer.status, 401);
  t.regex(await answer.text(), /That passkey was not accepted/);
});

test('a client that requires MFA: a user without a factor sets up a passkey during sign-in, sees recovery codes, and continues', async (t) => {
  const strict = await registerRp(server, { requireMfa: true });
  const user = await createTestUser(server);
  const browser = new Browser();
  const { request, mfa: enrol } = await passwordThenMfaPage(browser, user, strict);
  t.regex(enrol.url.pathname, /\/mfa\/enrol$/);
  const uid = uidOf(enrol);
  const authenticator = authenticatorFor();
  const options = await fetchOptions<PublicKeyCredentialCreationOptionsJSON>(browser, enrol, '/mfa/enrol/passkey', `/interaction/${uid}/mfa/enrol/passkey/options`);
  const answer = await postForm(browser, enrol, '/mfa/enrol/passkey', { credential: JSON.stringify(authenticator.register(options)) });
  t.is(answer.status, 200);
  const codes = { url: enrol.url, html: await answer.text() };
  t.regex(codes.html, /Save your recovery codes/);
  const continued = await postForm(browser, codes, '/mfa/continue', {});
  const location = continued.headers.get('location');
  t.is(continued.status, 303);
  let step = await go(browser, strict, new URL(location!, enrol.url));
  if (isConsentPage(step)) step = await submitConsent(browser, strict, step);
  const tokens = await redeem(strict, step.url, request);
  t.deepEqual(tokens.claims()!.amr, ['pwd', 'hwk', 'mfa']);
  t.is(tokens.claims()!.acr, ACR_MULTI_FACTOR);
  t.is(Number((await server.deps.db.knex('passkeys').where({ user_id: user.id }).count('* as n').first())!.n), 1);
});

test('the enrolment routes are refused to a sign-in that has a factor already', async (t) => {
  const authenticator = authenticatorFor();
  const user = await userWithPasskey(authenticator);
  const browser = new Browser();
  const { mfa } = await passwordThenMfaPage(browser, user);
  const csrf = findForm(mfa.html, '/mfa/passkey').fields._csrf!;
  const answer = await browser.request(url(`/interaction/${uidOf(mfa)}/mfa/enrol/passkey/options`), {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf }).toString(),
  });
  t.is(answer.status, 400);
});

test('a challenge is good for five minutes; the cleanup job removes the ones nobody answered', async (t) => {
  const authenticator = authenticatorFor();
  await userWithPasskey(authenticator);
  const browser = new Browser();
  const { login, uid, options } = await passwordlessStart(browser);
  const stored = await server.deps.db.knex('webauthn_challenges').where({ challenge: options.challenge }).first();
  t.is(stored.purpose, 'passwordless');
  t.is(stored.bound_to, uid);
  const lasts = new Date(stored.expires_at).getTime() - Date.now();
  t.true(lasts > 290_000 && lasts <= 300_000, `expires in ${lasts} ms`);

  await server.deps.db.knex('webauthn_challenges').where({ challenge: options.challenge }).update({ expires_at: new Date(Date.now() - 1000) });
  const late = await postForm(browser, login, `/interaction/${uid}/passkey`, { credential: JSON.stringify(authenticator.authenticate(options)) });
  t.is(late.status, 401);
  const counts = await runCleanup(server.deps);
  t.true(counts['expired passkey challenges']! >= 1);
  t.is(await server.deps.db.knex('webauthn_challenges').where({ challenge: options.challenge }).first(), undefined);
});
