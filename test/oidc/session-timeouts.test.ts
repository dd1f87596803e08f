/**
 * Sign-in sessions end after LATCHKEY_SESSION_IDLE_TTL without use and LATCHKEY_SESSION_TTL
 * after the sign-in, whichever comes first. Serial: these tests move the clock.
 */
import test from 'ava';
import { Browser } from '../helpers/browser.js';
import { advanceClock, resetClock } from '../helpers/clock.js';
import { createClient } from '../../src/domain/clients.js';
import { testActor } from '../helpers/actor.js';
import { authorizationRequest, createTestUser, go, isLoginPage, REDIRECT_URI, registerRp, signIn } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer({ LATCHKEY_SESSION_IDLE_TTL: '1h', LATCHKEY_SESSION_TTL: '3h' });
});

test.afterEach.always(() => {
  resetClock();
});

test.after.always(async () => {
  resetClock();
  await server?.dispose();
});

/** Whether the browser's session still signs it in without the login page. */
async function stillSignedIn(browser: Browser, rp: Awaited<ReturnType<typeof registerRp>>): Promise<boolean> {
  const step = await go(browser, rp, (await authorizationRequest(rp)).url);
  return !isLoginPage(step);
}

test.serial('a session used within the idle timeout lives on; one left idle past it ends', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const browser = new Browser();
  await signIn(browser, rp, user);

  advanceClock(50 * 60);
  t.true(await stillSignedIn(browser, rp), 'used after 50 minutes: still signed in');
  advanceClock(50 * 60);
  t.true(await stillSignedIn(browser, rp), 'each use restarts the idle timeout');
  advanceClock(61 * 60);
  t.false(await stillSignedIn(browser, rp), 'idle for more than an hour: signed out');
});

test.serial('a session in constant use still ends at the absolute timeout', async (t) => {
  const user = await createTestUser(server);
  const rp = await registerRp(server);
  const browser = new Browser();
  await signIn(browser, rp, user);

  for (let elapsed = 0; elapsed < 170; elapsed += 40) {
    advanceClock(40 * 60);
    if (elapsed + 40 < 180) t.true(await stillSignedIn(browser, rp), `in use after ${elapsed + 40} minutes`);
  }
  advanceClock(20 * 60);
  t.false(await stillSignedIn(browser, rp), 'three hours after signing in: signed out however recently used');
});

test.serial('over https the sign-in cookies are Secure, HttpOnly and SameSite=Lax', async (t) => {
  const https = await startTestServer({ ISSUER: 'https://id.example.test', LATCHKEY_TRUST_PROXY: 'true' });
  try {
    const { client } = await createClient(https.deps, testActor, { name: 'Https RP', redirectUris: [REDIRECT_URI] });
    // The issuer is public; the test reaches the process directly, as a TLS-terminating proxy would.
    const origin = `http://127.0.0.1:${https.config.http.port}`;
    const direct = new URL('/auth', origin);
    direct.search = new URLSearchParams({
      client_id: client.clientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }).toString();
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.test', accept: 'text/html' };
    const authorize = await fetch(direct, { headers, redirect: 'manual' });
    t.is(authorize.status, 303, await authorize.clone().text());
    const interaction = new URL(authorize.headers.get('location')!, 'https://id.example.test');
    const cookie = authorize.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');
    const login = await fetch(new URL(interaction.pathname, origin), { headers: { ...headers, cookie }, redirect: 'manual' });
    t.is(login.status, 200);
    const cookies = [...authorize.headers.getSetCookie(), ...login.headers.getSetCookie()];
    t.true(cookies.some((line) => line.startsWith('_interaction=')), 'the provider sets its interaction cookie');
    t.true(cookies.some((line) => line.startsWith('latchkey_csrf=')), 'the login page sets its CSRF cookie');
    for (const line of cookies) {
      const attributes = line.toLowerCase();
      t.true(attributes.includes('secure'), `${line.split('=')[0]} is Secure`);
      t.true(attributes.includes('httponly'), `${line.split('=')[0]} is HttpOnly`);
      t.true(attributes.includes('samesite=lax'), `${line.split('=')[0]} is SameSite=Lax`);
    }
  } finally {
    await https.dispose();
  }
});
