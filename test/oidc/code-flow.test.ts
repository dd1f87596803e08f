import test from 'ava';
import * as oidc from 'openid-client';
import { Browser, parseForms } from '../helpers/browser.js';
import { authorizationRequest, createTestUser, go, isConsentPage, redeem, registerRp, signIn, submitConsent, submitLogin } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

test('an app signs a user in with code + PKCE and reads their claims', async (t) => {
  const user = await createTestUser(server, { name: 'Alice' });
  const rp = await registerRp(server);
  const browser = new Browser();
  const { callback, request } = await signIn(browser, rp, user);
  const tokens = await redeem(rp, callback, request);
  const claims = tokens.claims()!;
  t.is(claims.sub, user.id);
  t.is(claims.iss, server.issuer);
  t.is(claims.aud, rp.clientId);
  const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, user.id);
  t.is(info.email, user.email);
  t.is(info.name, 'Alice');
  t.is(callback.searchParams.get('iss'), server.issuer);
});

// The response modes discovery advertises besides query: each must deliver a code that redeems.
for (const mode of ['form_post', 'fragment'] as const) {
  test(`response_mode=${mode} delivers the code, state and iss to the redirect URI`, async (t) => {
    const user = await createTestUser(server);
    const rp = await registerRp(server);
    const browser = new Browser();
    const request = await authorizationRequest(rp, { response_mode: mode });
    let step = await submitLogin(browser, rp, await go(browser, rp, request.url), user);
    if (isConsentPage(step)) step = await submitConsent(browser, rp, step);

    let delivered: URLSearchParams;
    if (mode === 'form_post') {
      // A page that posts the response to the redirect URI.
      t.is(step.response.status, 200);
      const form = parseForms(step.html).find((candidate) => candidate.action === rp.redirectUri);
      t.truthy(form, step.html);
      delivered = new URLSearchParams(form!.fields);
    } else {
      t.true(step.url.href.startsWith(`${rp.redirectUri}#`), step.url.href);
      t.is(step.url.search, '', 'nothing in the query');
      delivered = new URLSearchParams(step.url.hash.slice(1));
    }
    t.is(delivered.get('state'), request.state);
    t.is(delivered.get('iss'), server.issuer);
    const callback = new URL(rp.redirectUri);
    for (const [key, value] of delivered) callback.searchParams.set(key, value);
    const tokens = await redeem(rp, callback, request);
    t.is(tokens.claims()!.sub, user.id);
  });
}
