import test from 'ava';
import { createClient, getClient } from '../../src/domain/clients.js';
import { updateUser } from '../../src/domain/users.js';
import { LatchkeyError } from '../../src/errors.js';
import { testActor } from '../helpers/actor.js';
import { adminClientToken, adminFetch } from '../helpers/admin.js';
import { Browser, findForm, openPage, signInThrough } from '../helpers/browser.js';
import { createTestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { cliFor, json } from '../cli/support.js';

// require_mfa, the client setting that makes every sign-in for an application two-factor, as
// admins set it: domain, admin API, CLI and console. What it does to sign-ins is step-up.test.ts.

let server: TestServer;
let token: string;
let cli: ReturnType<typeof cliFor>;

test.before(async () => {
  server = await startTestServer();
  ({ token } = await adminClientToken(server));
  cli = cliFor(server);
});

test.after.always(async () => {
  await server?.dispose();
});

const url = (path: string) => `${server.issuer}${path}`;
const web = { name: 'Bank', redirectUris: ['https://bank.example/cb'], postLogoutRedirectUris: [] };

test('require_mfa is stored only when on, and only for clients that sign users in', async (t) => {
  const { client } = await createClient(server.deps, testActor, { ...web, requireMfa: true });
  t.true(client.metadata.require_mfa);
  const { client: plain } = await createClient(server.deps, testActor, { ...web, requireMfa: false });
  t.false('require_mfa' in plain.metadata);
  const error = await t.throwsAsync(
    createClient(server.deps, testActor, { name: 'Job', grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [], requireMfa: true }),
    { instanceOf: LatchkeyError },
  );
  t.is(error?.details?.requireMfa, 'only applies to clients that sign users in (authorization_code or device code)');
});

test('the admin API sets and clears require_mfa, shows it as false when off, and refuses a non-boolean', async (t) => {
  const created = await adminFetch(server, token, '/clients', { method: 'POST', body: { client_name: 'Bank', redirect_uris: ['https://bank.example/cb'], require_mfa: true } });
  t.is(created.status, 201);
  t.is(created.body!.require_mfa, true);
  const id = created.body!.client_id as string;
  const relaxed = await adminFetch(server, token, `/clients/${id}`, { method: 'PATCH', body: { require_mfa: false } });
  t.is(relaxed.status, 200);
  t.is(relaxed.body!.require_mfa, false);
  t.false('require_mfa' in (await getClient(server.deps, id)).metadata);
  const bad = await adminFetch(server, token, `/clients/${id}`, { method: 'PATCH', body: { require_mfa: 'yes' } });
  t.is(bad.status, 400);
  t.deepEqual(bad.body!.details, { require_mfa: 'must be true or false' });
});

test('the CLI takes --require-mfa and --no-require-mfa', async (t) => {
  const created = json(t, await cli(['clients', 'create', '--name', 'Bank', '--redirect-uri', 'https://bank.example/cb', '--require-mfa', '--json']));
  t.is(created.require_mfa, true);
  const updated = json(t, await cli(['clients', 'update', created.client_id as string, '--no-require-mfa', '--json']));
  t.is(updated.require_mfa, false);
});

test('the console client form has a require multi-factor box that sets, shows and clears the setting', async (t) => {
  const admin = await createTestUser(server);
  await updateUser(server.deps, testActor, admin.id, { isAdmin: true });
  const browser = new Browser();
  const page = await signInThrough(browser, url('/admin/clients/new'), admin);
  t.regex(page.html, /<input type="checkbox" id="requireMfa" name="requireMfa" value="on" aria-describedby="requireMfa-hint">\s*<label for="requireMfa">Require multi-factor sign-in<\/label>/);

  const form = findForm(page.html, '/admin/clients');
  const fields = { _csrf: form.fields._csrf!, name: 'Console bank', grantTypes: 'authorization_code', redirectUris: 'https://bank.example/cb' };
  const created = await browser.post(url('/admin/clients'), { ...fields, requireMfa: 'on' });
  t.is(created.status, 200);
  const clientId = /Client ID<\/dt><dd><code>([^<]+)</.exec(await created.text())![1]!;
  t.true((await getClient(server.deps, clientId)).metadata.require_mfa);

  const edit = await openPage(browser, url(`/admin/clients/${clientId}`));
  t.regex(edit.html, /id="requireMfa" name="requireMfa" value="on" checked/);
  const saved = await browser.post(url(`/admin/clients/${clientId}`), { ...fields, _csrf: findForm(edit.html, `/admin/clients/${clientId}`).fields._csrf! });
  t.is(saved.status, 303);
  t.false('require_mfa' in (await getClient(server.deps, clientId)).metadata, 'an unchecked box switches it off');

  // A client that signs nobody in has no sign-in to protect: refused next to the box.
  const machine = await browser.post(url('/admin/clients'), { ...fields, grantTypes: 'client_credentials', redirectUris: '', requireMfa: 'on' });
  t.is(machine.status, 400);
  const html = await machine.text();
  t.regex(html, /<fieldset class="field has-error" aria-describedby="requireMfa-error">/);
  t.regex(html, /<p class="field-error" id="requireMfa-error">only applies to clients that sign users in/);
});
