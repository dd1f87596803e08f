import test from 'ava';
import { Browser, findForm } from '../helpers/browser.js';
import { pageFixture, pageRoutes, probePages, providerPages, type PageFixture, type Probe } from '../helpers/pages.js';
import { untranslatedText } from '../helpers/pseudo.js';
import { authorizationRequest, go } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Every page rendered in the pseudo-locale, where each translated string is accented and in
// ⟦brackets⟧: any other text a person can read on it never went through the translation table.
const PSEUDO = 'en-XA';
let server: TestServer;
let fixture: PageFixture;

test.before(async () => {
  server = await startTestServer({ LATCHKEY_SIGNUP: 'true' });
  fixture = await pageFixture(server, PSEUDO);
});

test.after.always(async () => {
  await server?.dispose();
});

async function assertTranslated(t: import('ava').ExecutionContext, what: string, probe: Probe) {
  let pages = 0;
  for (const { response, html } of await probePages(probe)) {
    if (html === undefined) continue;
    pages += 1;
    t.deepEqual(untranslatedText(html), [], `${what} (${response.status} ${response.url}) shows text that is not in the translation table`);
  }
  return pages;
}

/** Routes that answer machines (JSON, metrics, assets) or only redirect: no page to read. */
const NOT_PAGES = /^\/(?:admin\/api\/|healthz$|readyz$|metrics$|assets\/|language$)/;
const everyPage = Object.entries({ ...pageRoutes(() => fixture), ...providerPages(() => fixture) }).filter(([what]) => !NOT_PAGES.test(what));

for (const [what, probe] of everyPage) {
  test(`${what}: every string on the page is translated`, async (t) => {
    t.true((await assertTranslated(t, what, probe)) > 0, 'a page was shown');
  });
}

/** Pages only a form's answer shows: the login page's error, a form's problems. */
const formAnswers: Record<string, Probe> = {
  'the login page after a wrong password': async () => {
    const browser = new Browser(fetch, PSEUDO);
    const page = await go(browser, fixture.rp, (await authorizationRequest(fixture.rp)).url);
    const form = findForm(page.html, '/login');
    return browser.post(new URL(form.action, page.url), { ...form.fields, email: fixture.user.email, password: 'not the password' });
  },
  'the sign-up form with every field wrong': async () => {
    const browser = new Browser(fetch, PSEUDO);
    const { url, response } = await browser.follow(`${server.issuer}/signup`);
    const form = findForm(await response.text(), '/signup');
    return browser.post(new URL(form.action, url), { ...form.fields, email: 'not an email', name: '', password: 'short' });
  },
  'the new client form with a bad redirect URI': async () => {
    const { url, response } = await fixture.admin.follow(`${server.issuer}/admin/clients/new`);
    const form = findForm(await response.text(), '/admin/clients');
    return fixture.admin.post(new URL(form.action, url), { ...form.fields, name: '', redirectUris: 'not a uri' });
  },
};

for (const [what, probe] of Object.entries(formAnswers)) {
  test(`${what}: every string on the page is translated`, async (t) => {
    t.is(await assertTranslated(t, what, probe), 1, 'the answer is a page');
  });
}
