import { randomBytes } from 'node:crypto';
import { createClient, DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT } from '../../src/domain/clients.js';
import { createInitialAccessToken } from '../../src/domain/initial-access-tokens.js';
import { queueMail } from '../../src/domain/mail.js';
import { createResource } from '../../src/domain/resources.js';
import { createTokenExchangePolicy } from '../../src/domain/token-exchange.js';
import { createUpstreamProvider } from '../../src/domain/upstream-providers.js';
import { updateUser } from '../../src/domain/users.js';
import { createWebhook } from '../../src/domain/webhooks.js';
import { testActor } from './actor.js';
import { adminClientToken } from './admin.js';
import { enrolTotp } from './factors.js';
import { Browser, findForm } from './browser.js';
import { authorizationRequest, createTestUser, go, isConsentPage, POST_LOGOUT_URI, registerRp, signIn, submitConsent, submitLogin, type RelyingParty, type TestUser } from './rp.js';
import type { TestServer } from './server.js';

/**
 * Every page Latchkey serves, reached as a person would reach it: the table the security
 * headers test and the pseudo-locale test both walk.
 */

/** What the requests of the table need: things to look at, and browsers signed in to look at them. */
export interface PageFixture {
  server: TestServer;
  /** The Accept-Language every request sends, when set. */
  languages: string | undefined;
  rp: RelyingParty;
  user: TestUser;
  admin: Browser;
  account: Browser;
  adminToken: string;
  resource: string;
  registrationTokenId: string;
  mailId: string;
  /** A webhook that nothing answers at, so its delivery log fills with failed attempts. */
  webhookId: string;
}

/** Signs a browser in to one of Latchkey's own first-party pages (the console, the account pages). */
export async function signedInTo(server: TestServer, path: string, user: TestUser, languages?: string): Promise<Browser> {
  const browser = new Browser(fetch, languages);
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

/** Something on every page to look at: an app, a user, an admin, an API, a registration token, a mail. */
export async function pageFixture(server: TestServer, languages?: string): Promise<PageFixture> {
  // First, so the app and users below are events delivered to it (port 9 refuses: a failing receiver).
  const { webhook } = await createWebhook(server.deps, testActor, { url: 'http://127.0.0.1:9/webhooks', description: 'Pages', eventTypes: ['user.created', 'client.created'] });
  const [rp, user, adminUser, { token: adminToken }] = await Promise.all([registerRp(server), createTestUser(server), createTestUser(server), adminClientToken(server)]);
  await updateUser(server.deps, testActor, adminUser.id, { isAdmin: true });
  const resource = `https://api-${randomBytes(4).toString('hex')}.example/`;
  await createResource(server.deps, testActor, { identifier: resource, scopes: ['read'] });
  const { initialAccessToken } = await createInitialAccessToken(server.deps, testActor, { description: 'Pages' });
  await queueMail(server.deps, server.deps.db.knex, {
    to: user.email,
    subject: 'Reset your password',
    template: 'reset-password',
    locals: { link: `${server.issuer}/password/reset?token=x`, lasts: '30 minutes', name: user.name },
  });
  const mailId = String((await server.deps.db.knex('mail_outbox').max('id as id').first())!.id);
  const [admin, account] = await Promise.all([signedInTo(server, '/admin', adminUser, languages), signedInTo(server, '/account', user, languages)]);
  return { server, languages, rp, user, admin, account, adminToken, resource, registrationTokenId: initialAccessToken.id, mailId, webhookId: webhook.id };
}

/** A response, or a step whose HTML was already read from it. */
export type Answer = Response | { response: Response; html: string };
export type Probe = () => Promise<Answer | Answer[]>;

/** Each response a probe got, with its HTML when it is a page. */
export async function probePages(probe: Probe): Promise<Array<{ response: Response; html: string | undefined }>> {
  return Promise.all(
    [await probe()].flat().map(async (answer) => {
      if (!(answer instanceof Response)) return answer;
      const isPage = answer.headers.get('content-type')?.startsWith('text/html') ?? false;
      const html = isPage && !answer.bodyUsed ? await answer.text() : undefined;
      if (!answer.bodyUsed) await answer.body?.cancel();
      return { response: answer, html };
    }),
  );
}

function requests(fixture: () => PageFixture) {
  const url = (path: string) => `${fixture().server.issuer}${path}`;
  const languageHeader = (): Record<string, string> => (fixture().languages ? { 'accept-language': fixture().languages! } : {});
  const browser = () => new Browser(fetch, fixture().languages);
  return {
    url,
    browser,
    get: (path: string, init: RequestInit = {}) => fetch(url(path), { redirect: 'manual', ...init, headers: { accept: 'text/html', ...languageHeader(), ...init.headers } }),
    api: (path: string) => fetch(url(`/admin/api/v1${path}`), { headers: { authorization: `Bearer ${fixture().adminToken}` } }),
    admin: (path: string) => fixture().admin.request(url(path)),
    account: (path: string) => fixture().account.request(url(path)),
    /** A browser on the login page of a new authorization request. */
    async loginPage(params: Record<string, string> = {}) {
      const on = browser();
      const page = await go(on, fixture().rp, (await authorizationRequest(fixture().rp, params)).url);
      return { browser: on, page };
    },
  };
}

/** The page a response_mode=form_post sign-in ends on: the provider's self-submitting form. */
export async function formPostPage(fixture: () => PageFixture) {
  const { loginPage } = requests(fixture);
  const { browser, page } = await loginPage({ response_mode: 'form_post' });
  const { rp, server } = fixture();
  let step = await submitLogin(browser, rp, page, await createTestUser(server));
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  if (step.response.status !== 200 || !step.html.includes(rp.redirectUri)) throw new Error(`no form_post page: ${step.response.status}`);
  return step;
}

/** A user code from a new device authorization, as a device shows it. */
async function deviceUserCode(fixture: PageFixture): Promise<string> {
  const { client } = await createClient(fixture.server.deps, testActor, { name: 'Kitchen TV', public: true, grantTypes: [DEVICE_CODE_GRANT], redirectUris: [], postLogoutRedirectUris: [] });
  const response = await fetch(`${fixture.server.issuer}/device/auth`, { method: 'POST', body: new URLSearchParams({ client_id: client.clientId, scope: 'openid' }) });
  return ((await response.json()) as { user_code: string }).user_code;
}

/** A token exchange policy for the fixture's app, to another new API each time (policies are unique per pair). */
async function tokenExchangePolicyId(fixture: PageFixture): Promise<string> {
  const target = `https://api-${randomBytes(4).toString('hex')}.example/`;
  await createResource(fixture.server.deps, testActor, { identifier: target, scopes: ['read'] });
  const { client } = await createClient(fixture.server.deps, testActor, { name: 'Orders service', grantTypes: [TOKEN_EXCHANGE_GRANT], redirectUris: [], postLogoutRedirectUris: [] });
  const policy = await createTokenExchangePolicy(fixture.server.deps, testActor, { clientId: client.clientId, subjectAudience: fixture.resource, targetAudience: target, scopes: ['read'] });
  return policy.id;
}

/**
 * A browser in a sign-in waiting for its second factor: a user with an authenticator app has
 * given the password. `required`: a user without a factor, for a client that requires one
 * (the sign-in waits for enrolment instead).
 */
async function secondFactorStep(fixture: PageFixture, required: boolean) {
  const { server } = fixture;
  const user = required ? await createTestUser(server) : await userWithTotp(fixture);
  const rp = required ? await registerRp(server, { requireMfa: true }) : fixture.rp;
  const browser = new Browser(fetch, fixture.languages);
  const step = await submitLogin(browser, rp, await go(browser, rp, (await authorizationRequest(rp)).url), user);
  const expected = required ? /\/mfa\/enrol$/ : /\/mfa$/;
  if (!expected.test(step.url.pathname)) throw new Error(`the sign-in stopped at ${step.url.href}, not at its second factor`);
  return { browser, step };
}

/** A new user with an authenticator app set up. */
async function userWithTotp(fixture: PageFixture): Promise<TestUser> {
  const user = await createTestUser(fixture.server);
  await enrolTotp(fixture.server, user);
  return user;
}

/** An upstream provider (the Google preset; nothing is asked of Google), a new one each time. */
async function upstreamProviderId(fixture: PageFixture): Promise<string> {
  const provider = await createUpstreamProvider(fixture.server.deps, testActor, { id: `google-${randomBytes(4).toString('hex')}`, kind: 'google', clientId: 'pages', clientSecret: 'pages-secret' });
  return provider.id;
}

/**
 * Every GET route our routers register, with requests that exercise it. A route missing here
 * fails "every GET route is in the table" (test/security/headers.test.ts): add it with a request
 * that reaches its page.
 */
export function pageRoutes(fixture: () => PageFixture): Record<string, Probe> {
  const { get, api, admin, account, loginPage } = requests(fixture);
  return {
    '/healthz': () => get('/healthz'),
    '/readyz': () => get('/readyz'),
    '/metrics': () => get('/metrics'),
    '/assets/:name': () => get('/assets/latchkey.css'),
    '/language': () => get('/language?lang=de&return_to=%2Fsignup'),
    '/interaction/:uid': async () => {
      const { browser, page } = await loginPage();
      const consent = await submitLogin(browser, fixture().rp, page, await createTestUser(fixture().server));
      if (!isConsentPage(consent)) throw new Error('no consent page');
      return [page, consent, await get('/interaction/no-such-interaction')];
    },
    '/interaction/:uid/mfa': async () => (await secondFactorStep(fixture(), false)).step,
    '/interaction/:uid/mfa/recovery': async () => {
      const { browser, step } = await secondFactorStep(fixture(), false);
      return browser.request(new URL(`${step.url.pathname}/recovery`, step.url));
    },
    '/interaction/:uid/mfa/enrol': async () => (await secondFactorStep(fixture(), true)).step,
    '/interaction/:uid/mfa/enrol/totp': async () => {
      const { browser, step } = await secondFactorStep(fixture(), true);
      return browser.request(new URL(`${step.url.pathname}/totp`, step.url));
    },
    // Without a trip upstream under way: the interaction's error page. A forged state: the upstream error page.
    '/interaction/:uid/upstream': async () => {
      const { browser, page } = await loginPage();
      return browser.request(`${page.url.href}/upstream`);
    },
    '/upstream/:provider/callback': () => get('/upstream/google/callback?code=x&state=forged'),
    '/signup': () => get('/signup'),
    '/verify-email': () => get('/verify-email?token=not-a-token'),
    '/password/forgot': () => get('/password/forgot'),
    '/password/reset': () => get('/password/reset?token=not-a-token'),
    '/admin/api/v1/clients': () => api('/clients'),
    '/admin/api/v1/clients/:id': () => api(`/clients/${fixture().rp.clientId}`),
    '/admin/api/v1/users': () => api('/users'),
    '/admin/api/v1/users/:id': () => api(`/users/${fixture().user.id}`),
    '/admin/api/v1/users/:id/grants': () => api(`/users/${fixture().user.id}/grants`),
    '/admin/api/v1/resources': () => api('/resources'),
    '/admin/api/v1/resources/:identifier': () => api(`/resources/${encodeURIComponent(fixture().resource)}`),
    '/admin/api/v1/initial-access-tokens': () => api('/initial-access-tokens'),
    '/admin/api/v1/token-exchange-policies': () => api('/token-exchange-policies'),
    '/admin/api/v1/token-exchange-policies/:id': async () => api(`/token-exchange-policies/${await tokenExchangePolicyId(fixture())}`),
    '/admin/api/v1/upstream-providers': () => api('/upstream-providers'),
    '/admin/api/v1/upstream-providers/:id': async () => api(`/upstream-providers/${await upstreamProviderId(fixture())}`),
    '/admin/api/v1/audit-events': () => api('/audit-events'),
    '/admin/api/v1/keys': () => api('/keys'),
    '/admin/api/v1/webhooks': () => api('/webhooks'),
    '/admin/api/v1/webhooks/:id': () => api(`/webhooks/${fixture().webhookId}`),
    '/admin/api/v1/webhooks/:id/deliveries': () => api(`/webhooks/${fixture().webhookId}/deliveries`),
    '/admin/api/v1/openapi.json': () => api('/openapi.json'),
    '/admin/api/v1/{*rest}': () => api('/no-such-thing'),
    '/admin/callback': () => get('/admin/callback?code=x&state=y'),
    '/admin/signed-out': () => get('/admin/signed-out'),
    '/admin': () => admin('/admin'),
    '/admin/clients': () => admin('/admin/clients'),
    '/admin/clients/new': () => admin('/admin/clients/new'),
    '/admin/clients/:id': () => admin(`/admin/clients/${fixture().rp.clientId}`),
    '/admin/clients/:id/rotate': () => admin(`/admin/clients/${fixture().rp.clientId}/rotate`),
    '/admin/clients/:id/delete': () => admin(`/admin/clients/${fixture().rp.clientId}/delete`),
    '/admin/users': () => admin('/admin/users'),
    '/admin/users/new': () => admin('/admin/users/new'),
    '/admin/users/:id': () => admin(`/admin/users/${fixture().user.id}`),
    '/admin/users/:id/password': () => admin(`/admin/users/${fixture().user.id}/password`),
    '/admin/users/:id/disable': () => admin(`/admin/users/${fixture().user.id}/disable`),
    '/admin/users/:id/factors/reset': async () => {
      const user = await userWithTotp(fixture());
      return [await admin(`/admin/users/${user.id}`), await admin(`/admin/users/${user.id}/factors/reset`)];
    },
    '/admin/resources': () => admin('/admin/resources'),
    '/admin/resources/new': () => admin('/admin/resources/new'),
    '/admin/resources/:identifier': () => admin(`/admin/resources/${encodeURIComponent(fixture().resource)}`),
    '/admin/resources/:identifier/delete': () => admin(`/admin/resources/${encodeURIComponent(fixture().resource)}/delete`),
    '/admin/token-exchange': async () => {
      await tokenExchangePolicyId(fixture());
      return admin('/admin/token-exchange');
    },
    '/admin/token-exchange/new': () => admin('/admin/token-exchange/new'),
    '/admin/token-exchange/:id/delete': async () => admin(`/admin/token-exchange/${await tokenExchangePolicyId(fixture())}/delete`),
    '/admin/upstream-providers': async () => {
      await upstreamProviderId(fixture());
      return admin('/admin/upstream-providers');
    },
    '/admin/upstream-providers/new': () => admin('/admin/upstream-providers/new'),
    '/admin/upstream-providers/:id': async () => [await admin(`/admin/upstream-providers/${await upstreamProviderId(fixture())}`), await admin('/admin/upstream-providers/no-such-provider')],
    '/admin/upstream-providers/:id/delete': async () => admin(`/admin/upstream-providers/${await upstreamProviderId(fixture())}/delete`),
    '/admin/tokens': () => admin('/admin/tokens'),
    '/admin/tokens/new': () => admin('/admin/tokens/new'),
    '/admin/tokens/:id/revoke': () => admin(`/admin/tokens/${fixture().registrationTokenId}/revoke`),
    '/admin/audit': () => admin('/admin/audit'),
    '/admin/mail': () => admin('/admin/mail'),
    '/admin/mail/:id': async () => [await admin(`/admin/mail/${fixture().mailId}`), await admin('/admin/mail/999999999')],
    '/admin/webhooks': () => admin('/admin/webhooks'),
    '/admin/webhooks/new': () => admin('/admin/webhooks/new'),
    '/admin/webhooks/:id': async () => [await admin(`/admin/webhooks/${fixture().webhookId}`), await admin('/admin/webhooks/no-such-webhook')],
    '/admin/webhooks/:id/rotate': () => admin(`/admin/webhooks/${fixture().webhookId}/rotate`),
    '/admin/webhooks/:id/delete': () => admin(`/admin/webhooks/${fixture().webhookId}/delete`),
    '/admin/webhooks/:id/deliveries': () => admin(`/admin/webhooks/${fixture().webhookId}/deliveries`),
    '/account/callback': () => get('/account/callback?code=x&state=y'),
    '/account/signed-out': () => get('/account/signed-out'),
    '/account': async () => [await account('/account'), await get('/account')],
    '/account/password': () => account('/account/password'),
    '/account/apps': () => account('/account/apps'),
    '/account/sessions': () => account('/account/sessions'),
    '/account/security': () => account('/account/security'),
    '/account/security/totp': () => account('/account/security/totp'),
  };
}

/** Pages oidc-provider answers itself: no router of ours lists them. */
export function providerPages(fixture: () => PageFixture): Record<string, Probe> {
  const { get, url, browser } = requests(fixture);
  return {
    'authorization error page (unknown client_id)': () => get('/auth?client_id=no-such-client&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fx.example%2Fcb'),
    'authorization error page (redirect_uri mismatch)': () =>
      get(`/auth?client_id=${fixture().rp.clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`),
    'logout confirmation (/session/end, signed in)': async () => {
      const on = browser();
      await signIn(on, fixture().rp, await createTestUser(fixture().server));
      return on.request(url(`/session/end?client_id=${fixture().rp.clientId}&post_logout_redirect_uri=${encodeURIComponent(POST_LOGOUT_URI)}`));
    },
    'logout without a session (/session/end)': () => get('/session/end'),
    'signed-out page (/session/end/success)': () => get('/session/end/success'),
    'device code page (/device)': () => get('/device'),
    'device code confirmation (/device, code entered)': async () => {
      const on = browser();
      const userCode = await deviceUserCode(fixture());
      const entry = await on.request(url('/device'));
      const form = findForm(await entry.text(), '/device');
      const response = await on.post(new URL(form.action, url('/')), { ...form.fields, user_code: userCode });
      return { response, html: await response.text() };
    },
    'form_post response page': () => formPostPage(fixture),
    'not found': () => get('/no-such-page'),
  };
}

