import { createHash } from 'node:crypto';
import test from 'ava';
import { Browser } from '../helpers/browser.js';
import { authorizationRequest, createTestUser, go, isConsentPage, registerRp, submitConsent, submitLogin, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// The pages an application sends people to, as a product team configures and a person sees them:
// themed, in their language, naming the application with its logo and policies.
let server: TestServer;
let rp: RelyingParty;

test.before(async () => {
  server = await startTestServer({
    LATCHKEY_THEME_NAME: 'Acme ID',
    LATCHKEY_THEME_LOGO_URL: 'https://cdn.acme.example/logo.svg',
    LATCHKEY_THEME_PRIMARY_COLOR: '#FFCC00',
  });
  rp = await registerRp(server, {
    name: 'Acme Shop',
    logoUri: 'https://shop.acme.example/logo.png',
    policyUri: 'https://shop.acme.example/privacy',
    tosUri: 'https://shop.acme.example/terms',
    clientUri: 'https://shop.acme.example/',
  });
});

test.after.always(async () => {
  await server?.dispose();
});

const loginPage = async (browser: Browser, params: Record<string, string> = {}) => go(browser, rp, (await authorizationRequest(rp, params)).url);

test('every page carries the theme: product name, logo, and the primary color as CSS custom properties readable on any color', async (t) => {
  const page = await loginPage(new Browser());
  t.regex(page.html, /<title>Sign in · Acme ID<\/title>/);
  t.regex(page.html, /<img class="brand-logo" src="https:\/\/cdn\.acme\.example\/logo\.svg" alt="Acme ID"/);
  t.regex(page.html, /Secured by <span translate="no">Acme ID<\/span>/);
  t.regex(page.html, /<link rel="stylesheet" href="\/assets\/theme\.css">/);
  const css = await (await fetch(`${server.issuer}/assets/theme.css`)).text();
  t.regex(css, /--color-primary: #ffcc00;/);
  // White on yellow is unreadable: button text turns dark, and links a darker shade of the color.
  t.regex(css, /--color-on-primary: #1b1f2a;/);
  const link = /--color-link: (#[0-9a-f]{6});/.exec(css)?.[1];
  t.truthy(link);
  t.not(link, '#ffcc00');
  const stylesheet = await (await fetch(`${server.issuer}/assets/latchkey.css`)).text();
  t.regex(stylesheet, /\.button\.primary \{[^}]*color: var\(--color-on-primary\)/);
});

test('login and consent show the application’s name and logo and link its privacy policy and terms', async (t) => {
  const browser = new Browser();
  const page = await loginPage(browser);
  for (const html of [page.html, (await submitLogin(browser, rp, page, await createTestUser(server))).html]) {
    t.regex(html, /<strong translate="no">Acme Shop<\/strong>/);
    t.regex(html, /<img class="client-logo" src="https:\/\/shop\.acme\.example\/logo\.png" alt="Acme Shop logo">/);
    t.regex(html, /<a href="https:\/\/shop\.acme\.example\/privacy"[^>]*>Privacy policy<\/a>/);
    t.regex(html, /<a href="https:\/\/shop\.acme\.example\/terms"[^>]*>Terms of service<\/a>/);
  }
});

test('the login page follows Accept-Language when the application asks for no language', async (t) => {
  const page = await loginPage(new Browser(fetch, 'fr-CH, de;q=0.8, en;q=0.5'));
  t.regex(page.html, /<html lang="de">/);
  t.regex(page.html, /<h1>Anmelden<\/h1>/);
  t.regex(page.html, /<label for="password">Passwort<\/label>/);
});

test('the switcher’s choice outranks ui_locales, lasts, and brings the person back to the page they were on', async (t) => {
  const browser = new Browser();
  const page = await loginPage(browser, { ui_locales: 'de' });
  t.regex(page.html, /<html lang="de">/);
  const link = /<a href="([^"]+)" lang="en"[^>]*>English<\/a>/.exec(page.html)?.[1]?.replace(/&amp;/g, '&');
  t.truthy(link);
  const switched = await browser.request(new URL(link!, page.url));
  t.is(switched.status, 303);
  t.is(switched.headers.get('location'), page.url.pathname);
  const again = await browser.follow(new URL(switched.headers.get('location')!, page.url));
  const html = await again.response.text();
  t.regex(html, /<html lang="en">/);
  t.regex(html, /<a href="[^"]+" lang="en"[^>]*aria-current="true">English<\/a>/);
  // Consent, after signing in, stays in the chosen language too.
  const consent = await submitLogin(browser, rp, { url: again.url, response: again.response, html }, await createTestUser(server));
  t.true(isConsentPage(consent));
  t.regex(consent.html, /<html lang="en">/);
});

test('the switcher sends nobody to another site, and ignores a language it does not have', async (t) => {
  for (const returnTo of ['https://evil.example/', '//evil.example/', '/\\evil.example/', 'javascript:alert(1)', '/.//evil.example/', '/..//evil.example/', '/%2e%2e//evil.example/']) {
    const response = await fetch(`${server.issuer}/language?lang=de&return_to=${encodeURIComponent(returnTo)}`, { redirect: 'manual' });
    t.is(response.status, 303, returnTo);
    t.is(response.headers.get('location'), '/account', returnTo);
  }
  const unknown = await fetch(`${server.issuer}/language?lang=xx&return_to=%2Fsignup`, { redirect: 'manual' });
  t.is(unknown.headers.get('location'), '/signup');
  t.deepEqual(unknown.headers.getSetCookie(), []);
});

test('an authorization request that cannot go back to the application ends on a friendly page with the code, the details and a way back', async (t) => {
  const unknownClient = await fetch(`${server.issuer}/auth?client_id=no-such-app&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Frp.example%2Fcallback`, {
    headers: { 'accept-language': 'de' },
  });
  t.is(unknownClient.status, 400);
  const html = await unknownClient.text();
  t.regex(html, /<h1>Diese Anwendung ist nicht registriert<\/h1>/);
  t.regex(html, /<code translate="no">invalid_client<\/code>/);
  t.regex(html, /<a class="button primary" href="\/account">Zu deinem Konto bei Acme ID<\/a>/);

  // The application is known and registered a home page: the way back is to it.
  const wrongRedirect = await fetch(`${server.issuer}/auth?client_id=${rp.clientId}&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fevil.example%2Fcb`);
  const page = await wrongRedirect.text();
  t.regex(page, /<h1>This application sent you to an unregistered address<\/h1>/);
  t.regex(page, /<code translate="no">invalid_redirect_uri<\/code>/);
  t.regex(page, /<a class="button primary" href="https:\/\/shop\.acme\.example\/">Back to Acme Shop<\/a>/);
});

test('an address nothing answers at gives a browser the friendly error page with a 404, and a machine a plain 404', async (t) => {
  const browser = await fetch(`${server.issuer}/no-such-page`, { headers: { accept: 'text/html', 'accept-language': 'de' } });
  t.is(browser.status, 404);
  const html = await browser.text();
  t.regex(html, /<html lang="de">/);
  t.regex(html, /<p class="lead">Unter dieser Adresse gibt es nichts\.<\/p>/);
  const machine = await fetch(`${server.issuer}/no-such-page`, { headers: { accept: 'application/json' } });
  t.is(machine.status, 404);
  t.notRegex(await machine.text(), /<html/);
});

test('a form_post answer is carried by a page in the layout and language, which works without JavaScript', async (t) => {
  const browser = new Browser(fetch, 'de');
  const request = await authorizationRequest(rp, { response_mode: 'form_post' });
  const page = await go(browser, rp, request.url);
  let step = await submitLogin(browser, rp, page, await createTestUser(server));
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  t.is(step.response.status, 200);
  t.regex(step.html, /<html lang="de">/);
  t.regex(step.html, /<form method="post" action="https:\/\/rp\.example\/callback">/);
  t.regex(step.html, /<input type="hidden" name="code" value="[\w-]+">/);
  t.regex(step.html, /<input type="hidden" name="state" value="[\w-]+">/);
  t.regex(step.html, /<button type="submit" class="button primary" autofocus>Weiter<\/button>/);
  // The provider allowed its script by its hash; the page keeps exactly that script.
  const script = /<script>([\s\S]*?)<\/script>/.exec(step.html)![1]!;
  const hash = createHash('sha256').update(script).digest('base64');
  t.true(step.response.headers.get('content-security-policy')!.includes(`'sha256-${hash}'`));
});

test('after a refused password the switcher brings the person back to the sign-in, not to the form’s address', async (t) => {
  const browser = new Browser();
  const page = await loginPage(browser);
  const refused = await submitLogin(browser, rp, page, { email: 'nobody@example.com', password: 'not the password' });
  t.is(refused.response.status, 401);
  const link = /<a href="([^"]+)" lang="de"/.exec(refused.html)?.[1]?.replace(/&amp;/g, '&');
  t.truthy(link);
  const switched = await browser.request(new URL(link!, page.url));
  t.is(switched.headers.get('location'), page.url.pathname);
  const again = await browser.follow(new URL(switched.headers.get('location')!, page.url));
  const html = await again.response.text();
  t.regex(html, /<html lang="de">/);
  t.regex(html, /<h1>Anmelden<\/h1>/);
});
