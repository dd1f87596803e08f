import test from 'ava';
import { getClient } from '../../src/domain/clients.js';
import { CONSOLE_CLIENT_ID, ensureFirstPartyClients } from '../../src/domain/first-party-clients.js';
import { updateUser } from '../../src/domain/users.js';
import { LatchkeyError } from '../../src/errors.js';
import { testActor } from '../helpers/actor.js';
import { Browser, findForm, openPage, type Page, signInThrough } from '../helpers/browser.js';
import { createTestUser, type TestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

const open = (browser: Browser, url: string | URL) => openPage(browser, url);



/** Opens the console and signs in on Latchkey's own sign-in page, as a browser would. */
async function signInToConsole(user: TestUser): Promise<{ browser: Browser; page: Page }> {
  const browser = new Browser();
  return { browser, page: await signInThrough(browser, `${server.issuer}/admin`, user) };
}

async function admin(): Promise<{ user: TestUser; browser: Browser; page: Page }> {
  const user = await createTestUser(server);
  await updateUser(server.deps, testActor, user.id, { isAdmin: true });
  return { user, ...(await signInToConsole(user)) };
}

const url = (path: string) => `${server.issuer}${path}`;

test('the console sends a browser without a session to sign in with PKCE for the admin API', async (t) => {
  const response = await new Browser().request(url('/admin/clients'));
  t.is(response.status, 303);
  const location = new URL(response.headers.get('location')!);
  t.is(location.origin + location.pathname, url('/auth'));
  t.is(location.searchParams.get('client_id'), CONSOLE_CLIENT_ID);
  t.is(location.searchParams.get('code_challenge_method'), 'S256');
  t.truthy(location.searchParams.get('state'));
  t.truthy(location.searchParams.get('nonce'));
  t.is(location.searchParams.get('scope'), 'openid latchkey:admin');
  t.is(location.searchParams.get('resource'), url('/admin/api'));
});

test('an admin signs in and every section renders', async (t) => {
  const { browser, page } = await admin();
  t.is(page.status, 200);
  t.is(page.url.pathname, '/admin/clients');
  for (const [path, heading] of [
    ['/admin/clients', 'Clients'],
    ['/admin/users', 'Users'],
    ['/admin/resources', 'APIs'],
    ['/admin/tokens', 'Registration tokens'],
    ['/admin/audit', 'Audit log'],
    ['/admin/clients/new', 'New client'],
  ] as const) {
    const section = await open(browser, url(path));
    t.is(section.status, 200, path);
    t.true(section.html.includes(`<h1>${heading}</h1>`), path);
    t.true(section.html.includes('name="_csrf"'), path);
  }
  const audit = await open(browser, url('/admin/audit?type=user.signed_in'));
  t.true(audit.html.includes('user.signed_in'));
});

test('creating a client shows its secret once, then lists it without the secret', async (t) => {
  const { browser } = await admin();
  const form = findForm((await open(browser, url('/admin/clients/new'))).html, '/admin/clients');
  const response = await browser.post(url('/admin/clients'), {
    _csrf: form.fields._csrf!,
    name: 'Console-made app',
    grantTypes: 'authorization_code',
    redirectUris: 'https://made.example/callback',
  });
  t.is(response.status, 200);
  const html = await response.text();
  const secret = /class="secret-value"[^>]*>([^<]+)</.exec(html)?.[1];
  const clientId = /Client ID<\/dt><dd><code>([^<]+)</.exec(html)?.[1];
  t.truthy(secret);
  t.truthy(clientId);
  const client = await getClient(server.deps, clientId!);
  t.is(client.name, 'Console-made app');
  t.deepEqual(client.metadata.redirect_uris, ['https://made.example/callback']);
  t.false(client.adminAccess);

  const list = await open(browser, url('/admin/clients?name=Console-made'));
  t.true(list.html.includes('Console-made app'));
  t.false(list.html.includes(secret!));
  const edit = await open(browser, url(`/admin/clients/${clientId}`));
  t.is(edit.status, 200);
  t.false(edit.html.includes(secret!));
});

test('a POST without a valid CSRF token is refused', async (t) => {
  const { browser } = await admin();
  const missing = await browser.post(url('/admin/clients'), { name: 'No token', redirectUris: 'https://x.example/cb' });
  t.is(missing.status, 403);
  t.true((await missing.text()).includes('This form has expired'));
  const wrong = await browser.post(url('/admin/clients'), { _csrf: 'forged', name: 'Bad token', redirectUris: 'https://x.example/cb' });
  t.is(wrong.status, 403);
  await wrong.body?.cancel();
  // A token is bound to its session: another admin's does not work.
  const other = await admin();
  const othersToken = findForm(other.page.html, '/admin/logout').fields._csrf!;
  const borrowed = await browser.post(url('/admin/clients'), { _csrf: othersToken, name: 'Borrowed', redirectUris: 'https://x.example/cb' });
  t.is(borrowed.status, 403);
  await borrowed.body?.cancel();
});

test('a user who is not an admin gets the not-allowed page', async (t) => {
  const { page } = await signInToConsole(await createTestUser(server));
  t.is(page.status, 403);
  t.true(page.html.includes('You are not allowed here'));
});

test('an admin who is demoted loses access on the next request', async (t) => {
  const { user, browser } = await admin();
  t.is((await open(browser, url('/admin/users'))).status, 200);
  await updateUser(server.deps, testActor, user.id, { isAdmin: false });
  const next = await open(browser, url('/admin/users'));
  t.is(next.status, 403);
  t.true(next.html.includes('You are not allowed here'));
});

test('a refused field shows its error next to it, with what was typed', async (t) => {
  const { browser } = await admin();
  const form = findForm((await open(browser, url('/admin/clients/new'))).html, '/admin/clients');
  const response = await browser.post(url('/admin/clients'), {
    _csrf: form.fields._csrf!,
    name: 'Bad URIs',
    grantTypes: 'authorization_code',
    redirectUris: 'not a url',
  });
  t.is(response.status, 400);
  const html = await response.text();
  t.regex(html, /<textarea id="redirectUris"[^>]*aria-invalid="true"[^>]*>not a url<\/textarea>\s*<p class="field-error" id="redirectUris-error">must be an absolute http\(s\) URL/);
  t.false(html.includes('name-error'));
});

/** Posts a form whose fields may repeat (checkbox groups), as a browser sends it. */
function postForm(browser: Browser, to: string, fields: Record<string, string | string[]>): Promise<Response> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) for (const each of [value].flat()) body.append(name, each);
  return browser.request(to, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
}

test('the client form sets the protocol requirements and the refresh reuse grace, and offers the device code grant', async (t) => {
  const { browser } = await admin();
  const page = await open(browser, url('/admin/clients/new'));
  t.regex(page.html, /<input type="checkbox" id="grant-device_code" name="grantTypes" value="urn:ietf:params:oauth:grant-type:device_code">\s*<label for="grant-device_code">Device code, for CLIs and TVs \(<code translate="no">device_code<\/code>\)<\/label>/);
  for (const id of ['requirePushedAuthorizationRequests', 'dpopBoundAccessTokens', 'requireSignedRequestObject']) {
    t.regex(page.html, new RegExp(`<input type="checkbox" id="${id}" name="${id}" value="on" aria-describedby="${id}-hint">`), id);
  }
  t.true(page.html.includes('id="refreshTokenReuseGrace-hint"'));

  const form = findForm(page.html, '/admin/clients');
  const created = await postForm(browser, url('/admin/clients'), {
    _csrf: form.fields._csrf!,
    name: 'Strict console app',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: 'https://strict.example/cb',
    requirePushedAuthorizationRequests: 'on',
    dpopBoundAccessTokens: 'on',
    refreshTokenReuseGrace: '15',
  });
  t.is(created.status, 200);
  const clientId = /Client ID<\/dt><dd><code>([^<]+)</.exec(await created.text())![1]!;
  const stored = (await getClient(server.deps, clientId)).metadata;
  t.true(stored.require_pushed_authorization_requests);
  t.true(stored.dpop_bound_access_tokens);
  t.is(stored.refresh_token_reuse_grace, 15);

  const edit = await open(browser, url(`/admin/clients/${clientId}`));
  t.regex(edit.html, /id="requirePushedAuthorizationRequests" name="requirePushedAuthorizationRequests" value="on" checked/);
  t.regex(edit.html, /id="dpopBoundAccessTokens" name="dpopBoundAccessTokens" value="on" checked/);
  t.notRegex(edit.html, /id="requireSignedRequestObject" name="requireSignedRequestObject" value="on" checked/);
  t.regex(edit.html, /id="refreshTokenReuseGrace" name="refreshTokenReuseGrace" type="number" value="15"/);

  // Unchecking a box switches the requirement off; asking for signed request objects without keys is refused next to the box.
  const editForm = findForm(edit.html, `/admin/clients/${clientId}`);
  const refused = await postForm(browser, url(editForm.action), {
    _csrf: editForm.fields._csrf!,
    name: 'Strict console app',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: 'https://strict.example/cb',
    requireSignedRequestObject: 'on',
    refreshTokenReuseGrace: '15',
  });
  t.is(refused.status, 400);
  const html = await refused.text();
  t.regex(html, /<fieldset class="field has-error" aria-describedby="requireSignedRequestObject-error">/);
  t.regex(html, /<p class="field-error" id="requireSignedRequestObject-error">needs the public keys of the client \(jwks or jwks_uri\) to check its request objects<\/p>/);

  const saved = await postForm(browser, url(editForm.action), {
    _csrf: editForm.fields._csrf!,
    name: 'Strict console app',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: 'https://strict.example/cb',
    refreshTokenReuseGrace: '',
  });
  t.is(saved.status, 303);
  const after = (await getClient(server.deps, clientId)).metadata;
  t.false('require_pushed_authorization_requests' in after);
  t.false('dpop_bound_access_tokens' in after);
  t.false('refresh_token_reuse_grace' in after, 'an emptied field goes back to the server default');
});

test('deleting a client asks for confirmation first', async (t) => {
  const { browser } = await admin();
  const form = findForm((await open(browser, url('/admin/clients/new'))).html, '/admin/clients');
  const created = await browser.post(url('/admin/clients'), { _csrf: form.fields._csrf!, name: 'Doomed', grantTypes: 'authorization_code', redirectUris: 'https://doomed.example/cb' });
  const clientId = /Client ID<\/dt><dd><code>([^<]+)</.exec(await created.text())![1]!;

  const confirm = await open(browser, url(`/admin/clients/${clientId}/delete`));
  t.is(confirm.status, 200);
  t.true(confirm.html.includes('Delete Doomed?'));
  t.is((await getClient(server.deps, clientId)).name, 'Doomed');

  const deleteForm = findForm(confirm.html, `/admin/clients/${clientId}/delete`);
  const deleted = await browser.post(url(deleteForm.action), deleteForm.fields);
  t.is(deleted.status, 303);
  t.is(deleted.headers.get('location'), '/admin/clients');
  const error = await t.throwsAsync(getClient(server.deps, clientId), { instanceOf: LatchkeyError });
  t.is(error?.code, 'client.not_found');
  const list = await open(browser, url('/admin/clients'));
  t.true(list.html.includes('The client was deleted'));
});

test('signing out revokes the session and logs out at the provider', async (t) => {
  const { browser, page } = await admin();
  const sessionCookie = `latchkey_console=${browser.cookieValues()[browser.cookieNames().indexOf('latchkey_console')]}`;
  const form = findForm(page.html, '/admin/logout');
  const response = await browser.post(url(form.action), form.fields);
  t.is(response.status, 303);
  const location = new URL(response.headers.get('location')!);
  t.is(location.pathname, '/session/end');
  t.is(location.searchParams.get('post_logout_redirect_uri'), url('/admin/signed-out'));
  // The console cookie is gone: the next page starts a new sign-in.
  t.is((await browser.request(url('/admin/users'))).status, 303);
  // The access token behind the old cookie was revoked: replaying the cookie does not get in.
  const replayed = await fetch(url('/admin/users'), { headers: { cookie: sessionCookie, accept: 'text/html' }, redirect: 'manual' });
  t.is(replayed.status, 303);
  t.true(replayed.headers.get('location')!.startsWith(url('/auth?')));
});

test('an API registered in the console opens for editing by its identifier', async (t) => {
  const { browser } = await admin();
  const form = findForm((await open(browser, url('/admin/resources/new'))).html, '/admin/resources');
  const created = await browser.post(url('/admin/resources'), { _csrf: form.fields._csrf!, identifier: 'https://orders.example/api', scopes: 'read:orders', accessTokenFormat: 'jwt' });
  t.is(created.status, 303);
  const edit = await open(browser, url(`/admin/resources/${encodeURIComponent('https://orders.example/api')}`));
  t.is(edit.status, 200);
  t.true(edit.html.includes('value="read:orders"'));
});

test('the console client is set up once, even by servers starting together', async (t) => {
  await Promise.all([ensureFirstPartyClients(server.deps), ensureFirstPartyClients(server.deps)]);
  const client = await getClient(server.deps, CONSOLE_CLIENT_ID);
  t.deepEqual(client.metadata.redirect_uris, [url('/admin/callback')]);
  t.true(client.firstParty && client.adminAccess);
  t.is(client.metadata.token_endpoint_auth_method, 'none');
});
