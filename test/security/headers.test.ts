import { createHash } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { createApp, mountedRouters } from '../../src/app.js';
import { loadKeys } from '../../src/domain/keys.js';
import { createProvider } from '../../src/oidc/provider.js';
import { formPostPage, pageFixture, pageRoutes, probePages, providerPages, type PageFixture, type Probe } from '../helpers/pages.js';
import { postWithBasic, registerRp } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
/** Behind a TLS-terminating proxy: the issuer is https, the socket plain http. */
let tlsServer: TestServer;

let fixture: PageFixture;

test.before(async () => {
  // Sign-up open, so its page is there to check.
  [server, tlsServer] = await Promise.all([
    startTestServer({ LATCHKEY_SIGNUP: 'true' }),
    startTestServer({ ISSUER: 'https://id.test', LATCHKEY_TRUST_PROXY: 'true' }),
  ]);
  fixture = await pageFixture(server);
});

test.after.always(async () => {
  await Promise.all([server?.dispose(), tlsServer?.dispose()]);
});

const url = (path: string) => `${server.issuer}${path}`;
const routes = pageRoutes(() => fixture);

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
  for (const [index, { response }] of (await probePages(probe)).entries()) {
    assertSecurityHeaders(t, response, `${what} #${index + 1} (${response.status})`);
  }
}

test('every GET route our routers register is in the table', async (t) => {
  // The app as the server builds it, to read the routers it mounts.
  const provider = createProvider(server.deps, await loadKeys(server.deps));
  const app = await createApp(server.deps, () => provider);
  const registered = new Set(mountedRouters(app).flatMap((router) => router.stack.filter((layer) => layer.methods.includes('GET')).map((layer) => String(layer.path))));
  const missing = [...registered].filter((path) => !(path in routes));
  t.deepEqual(missing, [], `GET routes missing from the table in test/helpers/pages.ts; add them: ${missing.join(', ')}`);
  const stale = Object.keys(routes).filter((path) => !registered.has(path));
  t.deepEqual(stale, [], `the table lists routes no router registers any more; remove them: ${stale.join(', ')}`);
});

for (const [route, probe] of Object.entries(routes)) {
  test(`GET ${route} answers with the security headers`, (t) => probeAll(t, route, probe));
}

for (const [page, probe] of Object.entries(providerPages(() => fixture))) {
  test(`the provider's ${page} answers with the security headers`, (t) => probeAll(t, page, probe));
}

test("the form_post page's script is allowed by a hash of exactly that script", async (t) => {
  const step = await formPostPage(() => fixture);
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
