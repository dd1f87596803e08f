import { randomBytes } from 'node:crypto';
import test from 'ava';
import type { Browser } from 'playwright-core';
import { startRelyingParty, type RunningRelyingParty } from '../../examples/relying-party/app.js';
import { startResourceServer, type RunningResourceServer } from '../../examples/resource-server/server.js';
import { createClient } from '../../src/domain/clients.js';
import { createResource } from '../../src/domain/resources.js';
import { findUserByEmail } from '../../src/store/users.js';
import { testActor } from '../helpers/actor.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { linkIn, startMailCatcher, type MailCatcher } from '../helpers/smtp.js';
import { cspViolations, launchBrowser, newContext, screenshot } from './support/browser.js';
import { consentForm, fillLogin, loginForm, navigateBy } from './support/flows.js';

let server: TestServer;
let browser: Browser;
let smtp: MailCatcher;
let api: RunningResourceServer;
let app: RunningRelyingParty;

/** The example API and app, registered as their READMEs say (examples/relying-party, examples/resource-server). */
async function startExamples(): Promise<void> {
  const identifier = `https://hello-${randomBytes(4).toString('hex')}.example/api`;
  const introspection = await createClient(server.deps, testActor, { name: 'Hello API', grantTypes: ['client_credentials'] });
  await createResource(server.deps, testActor, { identifier, scopes: ['hello:read'], accessTokenFormat: 'jwt', introspectionClientId: introspection.client.clientId });
  api = await startResourceServer({
    issuer: server.issuer,
    resource: identifier,
    introspectionClientId: introspection.client.clientId,
    introspectionClientSecret: introspection.clientSecret!,
    port: 0,
  });
  // The app's redirect URIs name its port, so the port is chosen before the client is
  // registered; another process may take it first: then another port, another client.
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const url = `http://localhost:${port}`;
    const { client, clientSecret } = await createClient(server.deps, testActor, {
      name: 'Example app',
      redirectUris: [`${url}/callback`],
      postLogoutRedirectUris: [`${url}/`],
      resources: [identifier],
      scope: 'openid profile email offline_access hello:read',
    });
    try {
      app = await startRelyingParty({ issuer: server.issuer, clientId: client.clientId, clientSecret: clientSecret!, apiUrl: `${api.url}/api/hello`, apiResource: identifier, port });
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EADDRINUSE' || attempt === 3) throw error;
    }
  }
}

test.before(async () => {
  smtp = await startMailCatcher();
  // Assigned one by one, so the after hook closes whatever did start when another part failed.
  await Promise.all([
    startTestServer({ LATCHKEY_SIGNUP: 'true', LATCHKEY_SMTP_URL: smtp.url, LATCHKEY_ENV: 'test' }).then((started) => (server = started)),
    launchBrowser().then((launched) => (browser = launched)),
  ]);
  await startExamples();
});

test.after.always(async () => {
  await browser?.close();
  await app?.close();
  await api?.close();
  await server?.dispose();
  await smtp?.close();
});

test('a visitor of the example app signs up on Latchkey, confirms the email, signs in, consents, is greeted by name, calls the API and signs out', async (t) => {
  const context = await newContext(browser);
  t.teardown(() => context.close());
  const page = await context.newPage();
  const refused = cspViolations(page);
  const name = `Ada ${randomBytes(3).toString('hex')}`;
  const email = `ada-${randomBytes(4).toString('hex')}@example.com`;
  const password = `correct horse ${randomBytes(4).toString('hex')}`;

  await page.goto(app.url);
  await screenshot(t, page, 'example-app-home');
  await navigateBy(page, () => page.getByRole('button', { name: 'Sign in with Latchkey' }).click());
  t.is(new URL(page.url()).origin, server.issuer, 'the button goes to Latchkey');
  t.is(await loginForm(page).count(), 1, "Latchkey's sign-in page");

  // No account yet: the sign-in page links to sign-up, which comes back here after.
  await navigateBy(page, () => page.locator('main a[href^="/signup"]').click());
  const signup = page.locator('form[action="/signup"]');
  await signup.locator('#name').fill(name);
  await signup.locator('#email').fill(email);
  await signup.locator('#password').fill(password);
  await navigateBy(page, () => signup.locator('button[type=submit]').click());
  t.truthy(await findUserByEmail(server.deps.db.knex, email), 'the account exists');

  // The link from the email, opened in the same browser, as a reader would click it.
  await page.goto(linkIn(await smtp.next(email), '/verify-email').href);
  await navigateBy(page, () => page.locator('form[action="/verify-email"] button[type=submit]').click());
  t.true((await findUserByEmail(server.deps.db.knex, email))?.emailVerified, 'the email address is confirmed');
  await screenshot(t, page, 'example-app-email-confirmed');
  // The confirmation page leads back to the sign-in the visitor started.
  await navigateBy(page, () => page.locator('main a[href^="/interaction/"]').click());
  t.is(await loginForm(page).count(), 1, 'back on the sign-in page');

  await fillLogin(page, { email, password });
  await navigateBy(page, () => loginForm(page).locator('button[type=submit]').click());
  // The app asks for offline_access with prompt=consent: Latchkey always asks.
  t.is(await consentForm(page).count(), 1, 'Latchkey asks for consent');
  await screenshot(t, page, 'example-app-consent');
  await navigateBy(page, () => consentForm(page).locator('button[type=submit]').click());

  t.is(`${new URL(page.url()).origin}/`, `${app.url}/`, 'back on the example app');
  t.true((await page.locator('h1').innerText()).includes(name), `the app greets the user by name: ${await page.locator('h1').innerText()}`);
  await screenshot(t, page, 'example-app-signed-in');

  // The app calls the example API with a token meant for it; the API sees this user.
  const user = await findUserByEmail(server.deps.db.knex, email);
  await navigateBy(page, () => page.locator('form[action="/call-api"] button[type=submit]').click());
  t.true((await page.locator('main').innerText()).includes(user!.id), 'the API answered for this user');

  // Signing out goes through Latchkey's logout, which asks first; "everywhere" ends Latchkey's session too.
  await navigateBy(page, () => page.locator('form[action="/logout"] button[type=submit]').click());
  t.is(new URL(page.url()).origin, server.issuer, "the app sends the browser to Latchkey's logout");
  await screenshot(t, page, 'example-app-logout-confirm');
  await navigateBy(page, () => page.locator('button[name="logout"][value="yes"]').click());
  t.is(`${new URL(page.url()).origin}${new URL(page.url()).pathname}`, `${app.url}/`, 'back on the example app');
  t.is(await page.getByRole('button', { name: 'Sign in with Latchkey' }).count(), 1, 'signed out: the sign-in button is back');
  t.false((await page.locator('main').innerText()).includes(name), 'the name is gone');
  await screenshot(t, page, 'example-app-signed-out');

  // Latchkey's session ended too: signing in again asks for the password.
  await navigateBy(page, () => page.getByRole('button', { name: 'Sign in with Latchkey' }).click());
  t.is(await loginForm(page).count(), 1, 'Latchkey asks to sign in again');
  t.deepEqual(refused, [], 'the pages break no Content-Security-Policy rule');
});
