import test from 'ava';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { createTestUser, redeem, registerRp, signIn } from '../helpers/rp.js';
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
