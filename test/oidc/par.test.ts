import test from 'ava';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { createTestUser, go, isConsentPage, isLoginPage, redeem, registerRp, submitConsent, submitLogin, type TestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let user: TestUser;

test.before(async () => {
  server = await startTestServer();
  user = await createTestUser(server);
});

test.after.always(async () => {
  await server?.dispose();
});

test('any client can push its authorization request (RFC 9126) and sign in with the request_uri, once', async (t) => {
  const rp = await registerRp(server);
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = await oidc.buildAuthorizationUrlWithPAR(rp.config, {
    redirect_uri: rp.redirectUri,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  t.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
  t.regex(url.searchParams.get('request_uri')!, /^urn:ietf:params:oauth:request_uri:/);

  const browser = new Browser();
  let step = await go(browser, rp, url);
  if (isLoginPage(step)) step = await submitLogin(browser, rp, step, user);
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  const tokens = await redeem(rp, step.url, { codeVerifier, state, nonce, url });
  t.is(tokens.claims()!.sub, user.id);

  // A request_uri is good for one authorization request.
  const again = await go(new Browser(), rp, url);
  t.is(again.response.status, 400);
  t.regex(again.html, /request_uri/i);
});

test('a pushed request is checked when it is pushed: an unregistered redirect_uri is refused there', async (t) => {
  const rp = await registerRp(server);
  const error = await t.throwsAsync(oidc.buildAuthorizationUrlWithPAR(rp.config, { redirect_uri: 'https://evil.example/cb', scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' }));
  t.like(error, { error: 'invalid_request' });
  t.regex((error as { error_description?: string }).error_description ?? '', /redirect_uri/);
});
