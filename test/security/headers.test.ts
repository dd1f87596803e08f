import { createHash, randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { createApp, mountedRouters } from '../../src/app.js';
import { createInitialAccessToken } from '../../src/domain/initial-access-tokens.js';
import { loadKeys } from '../../src/domain/keys.js';
import { queueMail } from '../../src/domain/mail.js';
import { createResource } from '../../src/domain/resources.js';
import { updateUser } from '../../src/domain/users.js';
import { createProvider } from '../../src/oidc/provider.js';
import { testActor } from '../helpers/actor.js';
import { adminClientToken } from '../helpers/admin.js';
import { Browser, findForm } from '../helpers/browser.js';
import {
  authorizationRequest,
  createTestUser,
  go,
  isConsentPage,
  POST_LOGOUT_URI,
  postWithBasic,
  registerRp,
  signIn,
  submitConsent,
  submitLogin,
  type RelyingParty,
  type TestUser,
} from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
/** Behind a TLS-terminating proxy: the issuer is https, the socket plain http. */
let tlsServer: TestServer;

/** What the requests of the table need: things to look at, and browsers signed in to look at them. */
interface Fixture {
  rp: RelyingParty;
  user: TestUser;
  admin: Browser;
  account: Browser;
  adminToken: string;
  resource: string;
  registrationTokenId: string;
  mailId: string;
}
let fixture: Fixture;

/** Signs a browser in to one of Latchkey's own first-party pages (the console, the account pages). */
async function signedInTo(path: string, user: TestUser): Promise<Browser> {
  const browser = new Browser();
  const { url, response } = await browser.follow(`${server.issuer}${path}`);
  const form = findForm(await response.text(), '/login');
  const posted = await browser.post(new URL(form.action, url), { ...form.fields, email: user.email, password: user.password });
  const location = posted.headers.get('location');
  if (posted.status !== 303 || !location) throw new Error(`sign-in to ${path} answered ${posted.status}`);
  const landed = await browser.follow(new URL(location, url));
  if (landed.response.status !== 200) throw new Error(`signed in to ${path} but landed on ${landed.url.href} (${landed.response.status})`);
  await landed.response.body?.cancel();
  return browser;
}

test.before(async () => {
  // Sign-up open, so its page is there to check.
  [server, tlsServer] = await Promise.all([
    startTestServer({ LATCHKEY_SIGNUP: 'true' }),
    startTestServer({ ISSUER: 'https://id.test', LATCHKEY_TRUST_PROXY: 'true' }),
  ]);
  const [rp, user, adminUser, { token: adminToken }] = await Promise.all([registerRp(server), createTestUser(server), createTestUser(server), adminClientToken(server)]);
  await updateUser(server.deps, testActor, adminUser.id, { isAdmin: true });
  const resource = `https://api-${randomBytes(4).toString('hex')}.example/`;
  await createResource(server.deps, testActor, { identifier: resource, scopes: ['read'] });
  const { initialAccessToken } = await createInitialAccessToken(server.deps, testActor, { description: 'Headers' });
  await queueMail(server.deps, server.deps.db.knex, {
    to: user.email,
    subject: 'Reset your password',
    template: 'reset-password',
    locals: { link: `${server.issuer}/password/reset?token=x`, lasts: '30 minutes', name: user.name },
  });
  const mailId = String((await server.deps.db.knex('mail_outbox').max('id as id').first())!.id);
  const [admin, account] = await Promise.all([signedInTo('/admin', adminUser), signedInTo('/account', user)]);
  fixture = { rp, user, admin, account, adminToken, resource, registrationTokenId: initialAccessToken.id, mailId };
});

test.after.always(async () => {
  await Promise.all([server?.dispose(), tlsServer?.dispose()]);
});

const url = (path: string) => `${server.issuer}${path}`;
const get = (path: string, init: RequestInit = {}) => fetch(url(path), { redirect: 'manual', ...init, headers: { accept: 'text/html', ...init.headers } });
const api = (path: string) => fetch(url(`/admin/api/v1${path}`), { headers: { authorization: `Bearer ${fixture.adminToken}` } });
const admin = (path: string) => fixture.admin.request(url(path));
const account = (path: string) => fixture.account.request(url(path));

/** A browser on the login page of a new authorization request. */
async function loginPage(params: Record<string, string> = {}) {
  const browser = new Browser();
  const page = await go(browser, fixture.rp, (await authorizationRequest(fixture.rp, params)).url);
  return { browser, page };
}

type Probe = () => Promise<Response | Response[]>;

/**
 * Every GET route our routers register, with requests that exercise it. A route missing here
 * fails "every GET route is in the table" below: add it with a request that reaches its page.
 */
const routes: Record<string, Probe> = {
  '/healthz': () => get('/healthz'),
  '/readyz': () => get('/readyz'),
  '/metrics': () => get('/metrics'),
  '/assets/:name': () => get('/assets/latchkey.css'),
  '/interaction/:uid': async () => {
    const { browser, page } = await loginPage();
    const consent = await submitLogin(browser, fixture.rp, page, await createTestUser(server));
    if (!isConsentPage(consent)) throw new Error('no consent page');
    return [page.response, consent.response, await get('/interaction/no-such-interaction')];
  },
  '/signup': () => get('/signup'),
  '/verify-email': () => get('/verify-email?token=not-a-token'),
  '/password/forgot': () => get('/password/forgot'),
  '/password/reset': () => get('/password/reset?token=not-a-token'),
  '/admin/api/v1/clients': () => api('/clients'),
  '/admin/api/v1/clients/:id': () => api(`/clients/${fixture.rp.clientId}`),
  '/admin/api/v1/users': () => api('/users'),
  '/admin/api/v1/users/:id': () => api(`/users/${fixture.user.id}`),
  '/admin/api/v1/users/:id/grants': () => api(`/users/${fixture.user.id}/grants`),
  '/admin/api/v1/resources': () => api('/resources'),
  '/admin/api/v1/resources/:identifier': () => api(`/resources/${encodeURIComponent(fixture.resource)}`),
  '/admin/api/v1/initial-access-tokens': () => api('/initial-access-tokens'),
  '/admin/api/v1/audit-events': () => api('/audit-events'),
  '/admin/api/v1/keys': () => api('/keys'),
  '/admin/api/v1/openapi.json': () => api('/openapi.json'),
  '/admin/api/v1/{*rest}': () => api('/no-such-thing'),
  '/admin/callback': () => get('/admin/callback?code=x&state=y'),
  '/admin/signed-out': () => get('/admin/signed-out'),
  '/admin': () => admin('/admin'),
  '/admin/clients': () => admin('/admin/clients'),
  '/admin/clients/new': () => admin('/admin/clients/new'),
  '/admin/clients/:id': () => admin(`/admin/clients/${fixture.rp.clientId}`),
  '/admin/clients/:id/rotate': () => admin(`/admin/clients/${fixture.rp.clientId}/rotate`),
  '/admin/clients/:id/delete': () => admin(`/admin/clients/${fixture.rp.clientId}/delete`),
  '/admin/users': () => admin('/admin/users'),
  '/admin/users/new': () => admin('/admin/users/new'),
  '/admin/users/:id': () => admin(`/admin/users/${fixture.user.id}`),
  '/admin/users/:id/password': () => admin(`/admin/users/${fixture.user.id}/password`),
  '/admin/users/:id/disable': () => admin(`/admin/users/${fixture.user.id}/disable`),
  '/admin/resources': () => admin('/admin/resources'),
  '/admin/resources/new': () => admin('/admin/resources/new'),
  '/admin/resources/:identifier': () => admin(`/admin/resources/${encodeURIComponent(fixture.resource)}`),
  '/admin/resources/:identifier/delete': () => admin(`/admin/resources/${encodeURIComponent(fixture.resource)}/delete`),
  '/admin/tokens': () => admin('/admin/tokens'),
  '/admin/tokens/new': () => admin('/admin/tokens/new'),
  '/admin/tokens/:id/revoke': () => admin(`/admin/tokens/${fixture.registrationTokenId}/revoke`),
  '/admin/audit': () => admin('/admin/audit'),
  '/admin/mail': () => admin('/admin/mail'),
  '/admin/mail/:id': async () => [await admin(`/admin/mail/${fixture.mailId}`), await admin('/admin/mail/999999999')],
  '/account/callback': () => get('/account/callback?code=x&state=y'),
  '/account/signed-out': () => get('/account/signed-out'),
  '/account': async () => [await account('/account'), await get('/account')],
  '/account/password': () => account('/account/password'),
  '/account/apps': () => account('/account/apps'),
  '/account/sessions': () => account('/account/sessions'),
};

/** Pages oidc-provider answers itself: no router of ours lists them. */
const providerPages: Record<string, Probe> = {
  'authorization error page (unknown client_id)': () => get('/auth?client_id=no-such-client&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fx.example%2Fcb'),
  'authorization error page (redirect_uri mismatch)': () =>
    get(`/auth?client_id=${fixture.rp.clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`),
  'logout confirmation (/session/end, signed in)': async () => {
    const browser = new Browser();
    await signIn(browser, fixture.rp, await createTestUser(server));
    return browser.request(url(`/session/end?client_id=${fixture.rp.clientId}&post_logout_redirect_uri=${encodeURIComponent(POST_LOGOUT_URI)}`));
  },
  'logout without a session (/session/end)': () => get('/session/end'),
  'signed-out page (/session/end/success)': () => get('/session/end/success'),
  'form_post response page': async () => (await formPostPage()).response,
  'not found': () => get('/no-such-page'),
};

async function formPostPage() {
  const { browser, page } = await loginPage({ response_mode: 'form_post' });
  let step = await submitLogin(browser, fixture.rp, page, await createTestUser(server));
  if (isConsentPage(step)) step = await submitConsent(browser, fixture.rp, step);
  if (step.response.status !== 200 || !step.html.includes(fixture.rp.redirectUri)) throw new Error(`no form_post page: ${step.response.status}`);
  return step;
}

/** The Content-Security-Policy as directive -> sources. */
function policy(response: Response): Map<string, string[]> {
  const header = response.headers.get('content-security-policy') ?? '';
  return new Map(
    header
      .split(';')
      .map((directive) => directive.trim().split(/\s+/))
      .filter(([name]) => name)
      .map(([name, ...sources]) => [name!.toLowerCase(), sources]),
  );
}

function assertSecurityHeaders(t: ExecutionContext, response: Response, what: string): void {
  const csp = policy(response);
  const scripts = csp.get('script-src') ?? [];
  t.true(
    scripts.some((source) => /^'(nonce-[\w+/=-]+|sha256-[\w+/=]+)'$/.test(source)),
    `${what}: script-src has a nonce or hash (${scripts.join(' ')})`,
  );
  t.false(scripts.includes("'unsafe-inline'"), `${what}: script-src without unsafe-inline`);
  t.deepEqual(csp.get('img-src'), ["'self'", 'https:', 'data:'], `${what}: img-src`);
  t.deepEqual(csp.get('frame-ancestors'), ["'none'"], `${what}: frame-ancestors`);
  t.false(csp.has('form-action'), `${what}: no form-action`);
  t.is(response.headers.get('referrer-policy'), 'no-referrer', `${what}: Referrer-Policy`);
  t.is(response.headers.get('x-content-type-options'), 'nosniff', `${what}: X-Content-Type-Options`);
  t.is(response.headers.get('strict-transport-security'), null, `${what}: no HSTS over http`);
}

async function probeAll(t: ExecutionContext, what: string, probe: Probe): Promise<void> {
  const responses = [await probe()].flat();
  for (const [index, response] of responses.entries()) {
    if (!response.bodyUsed) await response.body?.cancel();
    assertSecurityHeaders(t, response, `${what} #${index + 1} (${response.status})`);
  }
}

test('every GET route our routers register is in the table', async (t) => {
  // The app as the server builds it, to read the routers it mounts.
  const provider = createProvider(server.deps, await loadKeys(server.deps));
  const app = await createApp(server.deps, () => provider);
  const registered = new Set(mountedRouters(app).flatMap((router) => router.stack.filter((layer) => layer.methods.includes('GET')).map((layer) => String(layer.path))));
  const missing = [...registered].filter((path) => !(path in routes));
  t.deepEqual(missing, [], `GET routes missing from the table in test/security/headers.test.ts; add them: ${missing.join(', ')}`);
  const stale = Object.keys(routes).filter((path) => !registered.has(path));
  t.deepEqual(stale, [], `the table lists routes no router registers any more; remove them: ${stale.join(', ')}`);
});

for (const [route, probe] of Object.entries(routes)) {
  test(`GET ${route} answers with the security headers`, (t) => probeAll(t, route, probe));
}

for (const [page, probe] of Object.entries(providerPages)) {
  test(`the provider's ${page} answers with the security headers`, (t) => probeAll(t, page, probe));
}

test("the form_post page's script is allowed by a hash of exactly that script", async (t) => {
  const step = await formPostPage();
  const scripts = [...step.html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1]!);
  t.is(scripts.length, 1);
  const hash = `'sha256-${createHash('sha256').update(scripts[0]!).digest('base64')}'`;
  t.true(policy(step.response).get('script-src')?.includes(hash), `${hash} in ${step.response.headers.get('content-security-policy')}`);
});

test('token endpoint answers are never cached', async (t) => {
  const client = await registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [] });
  const issued = await postWithBasic(url('/token'), client, { grant_type: 'client_credentials' });
  const refused = await postWithBasic(url('/token'), { clientId: client.clientId, clientSecret: 'wrong' }, { grant_type: 'client_credentials' });
  const malformed = await postWithBasic(url('/token'), client, { grant_type: 'no-such-grant' });
  for (const [what, response] of [['issued', issued], ['refused', refused], ['malformed', malformed]] as const) {
    await response.body?.cancel();
    t.is(response.headers.get('cache-control'), 'no-store', what);
  }
  t.is(issued.status, 200);
});

test('with an https issuer every page, the provider pages included, sends HSTS', async (t) => {
  const behindProxy = { accept: 'text/html', 'x-forwarded-proto': 'https' };
  for (const path of ['/admin/signed-out', '/password/forgot', '/auth?client_id=no-such-client', '/session/end/success', '/assets/latchkey.css', '/no-such-page']) {
    const response = await fetch(`http://127.0.0.1:${tlsServer.config.http.port}${path}`, { headers: behindProxy, redirect: 'manual' });
    await response.body?.cancel();
    t.regex(response.headers.get('strict-transport-security') ?? '', /^max-age=\d{7,}/, path);
    t.is(response.headers.get('referrer-policy'), 'no-referrer', path);
  }
});
