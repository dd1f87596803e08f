import test from 'ava';
import * as oidc from 'openid-client';
import { createDeps, type Deps } from '../../src/deps.js';
import { deleteClient, rotateClientSecret } from '../../src/domain/clients.js';
import { rotateKeys } from '../../src/domain/keys.js';
import { requestPasswordReset } from '../../src/domain/password-reset.js';
import { countFailure } from '../../src/store/throttles.js';
import { testActor } from '../helpers/actor.js';
import { Browser } from '../helpers/browser.js';
import { startPgBouncer } from '../helpers/pgbouncer.js';
import { createTestUser, postWithBasic, redeem, registerRp, signIn } from '../helpers/rp.js';
import type { TestDatabase } from '../helpers/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startMailCatcher, type MailCatcher } from '../helpers/smtp.js';

// A server whose DATABASE_URL is a real pgbouncer in transaction pooling mode with one server
// connection, and whose LATCHKEY_DIRECT_DATABASE_URL (migrations, locks) is PostgreSQL itself.
let bouncer: TestDatabase | undefined;
let smtp: MailCatcher | undefined;
let server: TestServer | undefined;
// Another process of the deployment, behind the same pooler.
let other: Deps | undefined;

test.before(async () => {
  smtp = await startMailCatcher();
  bouncer = await startPgBouncer();
  server = await startTestServer({ LATCHKEY_SMTP_URL: smtp.url, LATCHKEY_CLEANUP_INTERVAL: '200ms' }, bouncer);
  other = await createDeps(server.config);
});

test.after.always(async () => {
  await other?.db.close();
  await (server ? server.dispose() : bouncer?.drop());
  await smtp?.close();
});

function running(): { server: TestServer; other: Deps } {
  if (!server || !other) throw new Error('the server did not start');
  return { server, other };
}

async function eventually<T>(ask: () => Promise<T>, done: (answer: T) => boolean): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const answer = await ask();
    if (done(answer) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function clientCredentials(client: { clientId: string; clientSecret: string | undefined }): Promise<{ status: number; error: string | undefined }> {
  const response = await postWithBasic(`${running().server.issuer}/token`, client, { grant_type: 'client_credentials' });
  const body = (await response.json()) as { error?: string };
  return { status: response.status, error: body.error };
}

test('every connection of the server pool is the one PostgreSQL session the pooler has', async (t) => {
  const { server } = running();
  const answers = await Promise.all(Array.from({ length: 4 }, () => server.deps.db.knex.raw('SELECT pg_backend_pid() AS pid')));
  t.is(new Set(answers.map((answer) => (answer.rows as Array<{ pid: number }>)[0]!.pid)).size, 1);
});

test('code + PKCE, refresh, introspection and revocation all work through the pooler', async (t) => {
  const { server } = running();
  const rp = await registerRp(server);
  const user = await createTestUser(server);
  const { callback, request } = await signIn(new Browser(), rp, user, { scope: 'openid profile email offline_access', prompt: 'consent' });
  const tokens = await redeem(rp, callback, request);
  t.is(tokens.claims()?.sub, user.id);
  t.truthy(tokens.refresh_token);

  const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
  t.truthy(refreshed.access_token);
  t.not(refreshed.refresh_token, tokens.refresh_token);

  const details = await oidc.tokenIntrospection(rp.config, refreshed.access_token);
  t.true(details.active);
  t.is(details.sub, user.id);
  t.is(details.client_id, rp.clientId);

  await oidc.tokenRevocation(rp.config, refreshed.refresh_token!, { token_type_hint: 'refresh_token' });
  t.false((await oidc.tokenIntrospection(rp.config, refreshed.refresh_token!)).active);
  t.false((await oidc.tokenIntrospection(rp.config, refreshed.access_token)).active);
});

test('a client secret rotated and a client deleted by another process take effect on the server behind the pooler', async (t) => {
  const { server, other } = running();
  const rp = await registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [] });
  // The server reads the client now and keeps it in its cache.
  t.is((await clientCredentials(rp)).status, 200);

  const { clientSecret } = await rotateClientSecret(other, testActor, rp.clientId);
  const rotated = { clientId: rp.clientId, clientSecret };
  t.is((await eventually(() => clientCredentials(rotated), (answer) => answer.status === 200)).status, 200);
  t.is((await clientCredentials(rp)).error, 'invalid_client', 'the old secret stops working');

  await deleteClient(other, testActor, rp.clientId);
  const deleted = await eventually(
    () => clientCredentials(rotated),
    (answer) => answer.status !== 200,
  );
  t.is(deleted.status, 401);
  t.is(deleted.error, 'invalid_client');
});

// Serial (ava runs these first, alone): the other tests' flows need not span a key swap.
test.serial('signing keys rotated by another process reach the server behind the pooler', async (t) => {
  const { server, other } = running();
  const rotated = await rotateKeys(other, testActor, { algs: ['ES256'], activationDelay: 0 });
  const kid = rotated[0]?.kid;
  const published = await eventually(
    async () => ((await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid),
    (kids) => kids.includes(kid!),
  );
  t.true(published.includes(kid!));
});

test('the background jobs run through the pooler: cleanup under its lock, mail delivery', async (t) => {
  const { server, other } = running();
  const expired = `pgbouncer-expired-${Date.now()}`;
  await countFailure(other.db.knex, expired, new Date(Date.now() - 120_000), 60);
  const gone = await eventually(
    async () => (await other.db.knex('throttles').where({ key: expired }).first()) === undefined,
    (answer) => answer,
  );
  t.true(gone, 'the cleanup job deleted the expired throttle');

  const user = await createTestUser(server);
  await requestPasswordReset(other, testActor, user.email, {});
  const mail = await smtp!.next(user.email);
  t.is(mail.subject, 'Reset your password');
});
