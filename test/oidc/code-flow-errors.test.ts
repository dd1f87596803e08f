import { randomBytes } from 'node:crypto';
import test from 'ava';
import * as oidc from 'openid-client';
import { Browser, findForm } from '../helpers/browser.js';
import {
  authorizationRequest,
  createTestUser,
  go,
  isConsentPage,
  isLoginPage,
  postWithBasic,
  registerRp,
  signIn,
  submitConsent,
  submitLogin,
  type RelyingParty,
} from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { disableUser } from '../../src/domain/users.js';
import { testActor } from '../helpers/actor.js';

let server: TestServer;
let tokenEndpoint: string;

test.before(async () => {
  server = await startTestServer();
  tokenEndpoint = `${server.issuer}/token`;
});

test.after.always(async () => {
  await server?.dispose();
});

function form(fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  };
}

test('a wrong code_verifier is refused with invalid_grant', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const { callback, request } = await signIn(new Browser(), rp, user);
  const error = await t.throwsAsync(
    oidc.authorizationCodeGrant(rp.config, callback, {
      pkceCodeVerifier: oidc.randomPKCECodeVerifier(),
      expectedState: request.state,
      expectedNonce: request.nonce,
    }),
    { instanceOf: oidc.ResponseBodyError },
  );
  t.is(error?.error, 'invalid_grant');
});

test('of five simultaneous redemptions of one code exactly one succeeds and the rest get invalid_grant', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const { callback, request } = await signIn(new Browser(), rp, user);
  const fields = {
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code')!,
    redirect_uri: rp.redirectUri,
    code_verifier: request.codeVerifier,
  };
  const responses = await Promise.all(
    Array.from({ length: 5 }, () => postWithBasic(tokenEndpoint, rp, fields)),
  );
  const bodies = await Promise.all(responses.map(async (response) => ({ status: response.status, body: (await response.json()) as Record<string, unknown> })));
  t.deepEqual(
    bodies.map(({ status }) => status).sort(),
    [200, 400, 400, 400, 400],
    JSON.stringify(bodies),
  );
  t.is(bodies.filter(({ body }) => typeof body.access_token === 'string').length, 1);
  t.is(bodies.filter(({ body }) => body.error === 'invalid_grant').length, 4);
});

test('an unregistered redirect_uri is never redirected to; the error page shows instead', async (t) => {
  const rp = await registerRp(server);
  const request = await authorizationRequest(rp, { redirect_uri: 'https://attacker.example/callback' });
  const response = await new Browser().request(request.url);
  t.is(response.status, 400);
  t.is(response.headers.get('location'), null);
  t.regex(response.headers.get('content-type') ?? '', /^text\/html/);
  const html = await response.text();
  t.true(html.includes('invalid_redirect_uri'));
  t.false(html.includes('attacker.example'));
});

test('redirect_uri is required even when the client registered only one (OIDC Core 3.1.2.1)', async (t) => {
  const rp = await registerRp(server);
  const request = await authorizationRequest(rp);
  request.url.searchParams.delete('redirect_uri');
  const response = await new Browser().request(request.url);
  t.is(response.status, 400);
  t.is(response.headers.get('location'), null);
  t.true((await response.text()).includes('redirect_uri'));
});

test('values from the request and from registrations are escaped on the pages that show them', async (t) => {
  const script = '<script>alert(1)</script>';
  const rp = await registerRp(server, { name: '<img src=x onerror=alert(1)>' });

  const withState = await authorizationRequest(rp, { redirect_uri: 'https://attacker.example/callback', state: script });
  const statePage = await (await new Browser().request(withState.url)).text();
  t.false(statePage.includes('<script'), 'state reflected raw');

  const unknownClient = new URL(withState.url);
  unknownClient.searchParams.set('client_id', script);
  const clientResponse = await new Browser().request(unknownClient);
  t.is(clientResponse.status, 400);
  t.is(clientResponse.headers.get('location'), null);
  t.false((await clientResponse.text()).includes('<script'), 'client_id reflected raw');

  // The login page echoes the client's name and, after a failure, the email typed in.
  const browser = new Browser();
  const page = await go(browser, rp, (await authorizationRequest(rp)).url);
  t.true(isLoginPage(page));
  t.false(page.html.includes('<img'));
  t.true(page.html.includes('&lt;img src=x onerror=alert(1)&gt;'));
  const loginForm = findForm(page.html, '/login');
  const action = new URL(loginForm.action, page.url);
  const failed = await browser.post(action, { ...loginForm.fields, email: `">${script}`, password: 'not-the-password' });
  t.is(failed.status, 401);
  const failedHtml = await failed.text();
  // The only script on the page is Latchkey's own (passkeys).
  t.false(/<script(?! src="\/assets\/passkeys\.js")/.test(failedHtml), 'submitted email reflected raw');
  t.true(failedHtml.includes('&lt;script&gt;'));
});

interface LoginAttempt {
  status: number;
  html: string;
  cookieNames: string[];
  verifyCalls: number;
}

/** One failed sign-in from a fresh browser, counting the argon2 verifies it cost. */
async function attemptLogin(rp: RelyingParty, email: string, password: string): Promise<LoginAttempt> {
  const browser = new Browser();
  const page = await go(browser, rp, (await authorizationRequest(rp)).url);
  if (!isLoginPage(page)) throw new Error('expected the login page');
  const form = findForm(page.html, '/login');
  const action = new URL(form.action, page.url);
  const uid = /\/interaction\/([^/]+)\/login$/.exec(action.pathname)![1]!;

  const passwords = server.deps.passwords;
  const verify = passwords.verify;
  let verifyCalls = 0;
  // verifyDummy goes through the same property, so both the known and the unknown path count.
  passwords.verify = (hash, candidate) => {
    if (candidate === password) verifyCalls += 1;
    return verify(hash, candidate);
  };
  try {
    const response = await browser.post(action, { ...form.fields, email, password });
    // The per-request CSP nonce on the page's script differs on every answer by design.
    const html = (await response.text()).replaceAll(uid, '{uid}').replaceAll(email, '{email}').replaceAll(form.fields._csrf!, '{csrf}').replace(/ nonce="[^"]*"/g, ' nonce="{nonce}"');
    const cookieNames = response.headers.getSetCookie().map((line) => line.slice(0, line.indexOf('='))).sort();
    return { status: response.status, html, cookieNames, verifyCalls };
  } finally {
    passwords.verify = verify;
  }
}

// Serial: it wraps the shared password hasher while it counts.
test.serial('an unknown email, a wrong password and a disabled account look the same and cost one argon2 verify each', async (t) => {
  const rp = await registerRp(server);
  const user = await createTestUser(server);
  const disabled = await createTestUser(server);
  await disableUser(server.deps, testActor, disabled.id);

  const unknown = await attemptLogin(rp, `nobody-${randomBytes(4).toString('hex')}@example.com`, `pw-${randomBytes(8).toString('hex')}`);
  const wrongPassword = await attemptLogin(rp, user.email, `pw-${randomBytes(8).toString('hex')}`);
  const disabledAccount = await attemptLogin(rp, disabled.email, disabled.password);

  t.is(unknown.status, 401);
  t.true(unknown.html.includes('id="login-error"'));
  t.true(unknown.html.includes('value="{email}"'));
  for (const [name, attempt] of Object.entries({ unknown, wrongPassword, disabledAccount })) {
    t.is(attempt.status, unknown.status, name);
    t.is(attempt.html, unknown.html, name);
    t.deepEqual(attempt.cookieNames, unknown.cookieNames, name);
    t.is(attempt.verifyCalls, 1, name);
  }
});

test('denying consent sends access_denied and the state back to the application', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const browser = new Browser();
  const request = await authorizationRequest(rp);
  let step = await go(browser, rp, request.url);
  step = await submitLogin(browser, rp, step, user);
  t.true(isConsentPage(step));
  step = await submitConsent(browser, rp, step, 'abort');
  t.true(step.url.href.startsWith(rp.redirectUri));
  t.is(step.url.searchParams.get('error'), 'access_denied');
  t.is(step.url.searchParams.get('state'), request.state);
  t.is(step.url.searchParams.get('iss'), server.issuer);
  t.is(step.url.searchParams.get('code'), null);
});

test('the token endpoint answers cross-origin only for origins the client registered', async (t) => {
  const spaOrigin = 'https://spa.example';
  const rp = await registerRp(server, { public: true, corsOrigins: [spaOrigin] });
  const user = await createTestUser(server);
  const browser = new Browser();
  const redeemFrom = async (origin: string, callback: URL, verifier: string) => {
    const response = await fetch(
      tokenEndpoint,
      form(
        { grant_type: 'authorization_code', client_id: rp.clientId, code: callback.searchParams.get('code')!, redirect_uri: rp.redirectUri, code_verifier: verifier },
        { origin },
      ),
    );
    return { status: response.status, allowOrigin: response.headers.get('access-control-allow-origin'), body: (await response.json()) as Record<string, unknown> };
  };

  // The preflight names no client, so it cannot be refused per client; the POST decides.
  const preflight = await fetch(tokenEndpoint, {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  t.is(preflight.status, 204);

  const first = await signIn(browser, rp, user);
  const refused = await redeemFrom('https://evil.example', first.callback, first.request.codeVerifier);
  t.is(refused.status, 400);
  t.is(refused.allowOrigin, null);
  t.is(refused.body.error, 'invalid_request');
  t.is(refused.body.access_token, undefined);

  // Refused before the code was looked at, so the same code still works from the app's own origin.
  const fromRedirectOrigin = await redeemFrom('https://rp.example', first.callback, first.request.codeVerifier);
  t.is(fromRedirectOrigin.status, 200);
  t.is(fromRedirectOrigin.allowOrigin, 'https://rp.example');
  t.is(typeof fromRedirectOrigin.body.access_token, 'string');

  const second = await signIn(browser, rp, user);
  const fromCorsOrigin = await redeemFrom(spaOrigin, second.callback, second.request.codeVerifier);
  t.is(fromCorsOrigin.status, 200);
  t.is(fromCorsOrigin.allowOrigin, spaOrigin);
});
