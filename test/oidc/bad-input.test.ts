import test from 'ava';
import { createClient } from '../../src/domain/clients.js';
import { createUser, listUsers } from '../../src/domain/users.js';
import { LatchkeyError } from '../../src/errors.js';
import { Browser, findForm } from '../helpers/browser.js';
import { authorizationRequest, go, registerRp } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { testActor } from '../helpers/actor.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

// PostgreSQL rejects a NUL byte in text; a request carrying one must still get a proper answer.

test('a NUL byte in client_id at the authorization endpoint gets the error page, not a server error', async (t) => {
  const response = await new Browser().request(`${server.issuer}/auth?client_id=a%00b&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Frp.example%2Fcb`);
  t.is(response.status, 400);
  t.true((await response.text()).includes('invalid_client'));
});

test('a NUL byte in client_id at the token endpoint is an invalid_client, not a server error', async (t) => {
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&client_id=a%00b&client_secret=x',
  });
  t.is(response.status, 401);
  t.is(((await response.json()) as { error: string }).error, 'invalid_client');
});

test('a NUL byte in the email on the login form is a failed sign-in, and an oversized form is refused as too large', async (t) => {
  const rp = await registerRp(server);
  const browser = new Browser();
  const page = await go(browser, rp, (await authorizationRequest(rp)).url);
  const form = findForm(page.html, '/login');
  const action = new URL(form.action, page.url);
  const nul = await browser.post(action, { ...form.fields, email: 'a\0b@example.com', password: 'whatever-password' });
  t.is(nul.status, 401);
  t.true((await nul.text()).includes('The email or password is not correct.'));
  const huge = await browser.post(action, { ...form.fields, email: 'a@example.com', password: 'x'.repeat(64 * 1024) });
  t.is(huge.status, 413);
  t.true((await huge.text()).includes('too large'));
});

test('names, URIs and filters with control characters are refused or match nothing, and nothing is written', async (t) => {
  for (const input of [
    { name: 'bad\0name', redirectUris: ['https://rp.example/cb'] },
    { name: 'ok', redirectUris: ['https://rp.example/c\0b'] },
  ]) {
    const error = await t.throwsAsync(createClient(server.deps, testActor, input), { instanceOf: LatchkeyError });
    t.is(error?.code, 'input.invalid');
  }
  const error = await t.throwsAsync(
    createUser(server.deps, testActor, { email: 'nul@example.com', name: 'a\0b', password: 'long-enough-password' }),
    { instanceOf: LatchkeyError },
  );
  t.is(error?.code, 'input.invalid');
  t.deepEqual((await listUsers(server.deps, { email: 'nul\0' })).items, []);
});
