import { randomBytes } from 'node:crypto';
import { startRelyingParty, type RunningRelyingParty } from '../../examples/relying-party/app.js';
import { startResourceServer, type RunningResourceServer } from '../../examples/resource-server/server.js';
import { createClient } from '../../src/domain/clients.js';
import { createResource } from '../../src/domain/resources.js';
import { testActor } from '../helpers/actor.js';
import { Browser, findForm, openPage, type Page } from '../helpers/browser.js';
import { go, isConsentPage, isLoginPage, registerRp, submitConsent, submitLogin, type RelyingParty } from '../helpers/rp.js';
import { freePort, type TestServer } from '../helpers/server.js';

export interface ExampleApi {
  identifier: string;
  introspectionClient: { clientId: string; clientSecret: string };
  server: RunningResourceServer;
}

/**
 * Registers an API (as its README does: an introspection client, then the resource) and starts
 * the example resource server for it; `introspectionClient` reuses another API's.
 */
export async function startExampleApi(
  server: TestServer,
  format: 'jwt' | 'opaque',
  introspectionClient?: ExampleApi['introspectionClient'],
): Promise<ExampleApi> {
  const identifier = `https://hello-${randomBytes(4).toString('hex')}.example/api`;
  introspectionClient ??= await newIntrospectionClient(server);
  await createResource(server.deps, testActor, {
    identifier,
    scopes: ['hello:read', 'hello:write'],
    accessTokenFormat: format,
    introspectionClientId: introspectionClient.clientId,
  });
  const running = await startResourceServer({
    issuer: server.issuer,
    resource: identifier,
    introspectionClientId: introspectionClient.clientId,
    introspectionClientSecret: introspectionClient.clientSecret,
    port: 0,
  });
  return { identifier, introspectionClient, server: running };
}

async function newIntrospectionClient(server: TestServer): Promise<ExampleApi['introspectionClient']> {
  const { client, clientSecret } = await createClient(server.deps, testActor, { name: 'Hello API', grantTypes: ['client_credentials'] });
  return { clientId: client.clientId, clientSecret: clientSecret! };
}

export interface ExampleApp {
  /** The app's client, discovered as the test helpers expect (its redirect URI is the app's /callback). */
  client: RelyingParty;
  app: RunningRelyingParty;
}

/** Registers the example app's client (as its README does) and starts the app, calling `api`. */
export async function startExampleApp(server: TestServer, api: ExampleApi): Promise<ExampleApp> {
  // The redirect URIs name the port, so it is chosen first; another test process can take it
  // before the app listens on it: then try another.
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const url = `http://localhost:${port}`;
    const client = await registerRp(server, {
      name: 'Example app',
      redirectUris: [`${url}/callback`],
      postLogoutRedirectUris: [`${url}/`],
      resources: [api.identifier],
      scope: 'openid profile email offline_access hello:read',
    });
    try {
      const app = await startRelyingParty({
        issuer: server.issuer,
        clientId: client.clientId,
        clientSecret: client.clientSecret!,
        apiUrl: `${api.server.url}/api/hello`,
        apiResource: api.identifier,
        port,
      });
      return { client, app };
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EADDRINUSE' || attempt === 3) throw error;
    }
  }
}

/** Presses "Sign in with Latchkey" and follows the browser to wherever Latchkey stops it (its sign-in page, or its consent page when already signed in). */
export async function pressSignIn(browser: Browser, example: ExampleApp) {
  const home = await openPage(browser, example.app.url);
  const form = findForm(home.html, '/login');
  const response = await browser.post(new URL(form.action, home.url), form.fields);
  const location = response.headers.get('location');
  if (response.status !== 303 || !location) throw new Error(`the sign-in button answered ${response.status}`);
  return go(browser, example.client, location);
}

/** The whole sign-in, as a person does it; returns the app's page after it. */
export async function signInAtApp(browser: Browser, example: ExampleApp, user: { email: string; password: string }): Promise<Page> {
  let step = await pressSignIn(browser, example);
  if (isLoginPage(step)) step = await submitLogin(browser, example.client, step, user);
  if (!isConsentPage(step)) throw new Error(`expected the consent page, got ${step.url.href}:\n${step.html}`);
  step = await submitConsent(browser, example.client, step);
  if (!step.url.href.startsWith(example.client.redirectUri)) throw new Error(`sign-in did not come back to the app: ${step.url.href}`);
  return openPage(browser, step.url);
}

/** Text as the page shows it, for a template's escaped output. */
export function unescapeHtml(value: string): string {
  return value
    .replace(/&#34;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The signed-in user's name as the app's page shows it, if it shows one. */
export function shownName(html: string): string | undefined {
  const match = /<span class="user-name">([^<]*)<\/span>/.exec(html);
  return match ? unescapeHtml(match[1]!) : undefined;
}

/** The API's answer on the app's page. */
export function shownApiAnswer(html: string): { status: string; body: string } | undefined {
  const match = /<h3>The API answered ([^<]*)<\/h3>\s*<pre class="answer">([\s\S]*?)<\/pre>/.exec(html);
  return match ? { status: match[1]!, body: unescapeHtml(match[2]!) } : undefined;
}

/** The app's notice (role=status), if the page has one. */
export function shownNotice(html: string): string | undefined {
  const match = /<p class="notice" role="status">([^<]*)<\/p>/.exec(html);
  return match ? unescapeHtml(match[1]!) : undefined;
}

export function hasSignInButton(html: string): boolean {
  return /<form method="post" action="\/login">\s*<button type="submit"[^>]*>Sign in with Latchkey<\/button>/.test(html);
}
