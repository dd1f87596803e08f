import { randomBytes } from 'node:crypto';
import test from 'ava';
import bcrypt from 'bcryptjs';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { createClient, deleteClient, rotateClientSecret, updateClient } from '../../src/domain/clients.js';
import { EVENT_CATALOG, EVENT_TYPES, isEventType } from '../../src/domain/events/catalog.js';
import { revokeGrant, listUserGrants } from '../../src/domain/grants.js';
import { createUser, deleteUser, disableUser, enableUser, setUserPassword, updateUser } from '../../src/domain/users.js';
import { createWebhook, deleteWebhook, listWebhookDeliveries } from '../../src/domain/webhooks.js';
import { importUsers } from '../../src/domain/user-import.js';
import { LatchkeyError } from '../../src/errors.js';
import { testActor } from '../helpers/actor.js';
import { Browser, linkOn, openPage, submitPage } from '../helpers/browser.js';
import { authorizationRequest, go, isConsentPage, isLoginPage, redeem, registerRp, signIn, submitConsent, submitLogin, type Step } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { linkIn, startMailCatcher, type MailCatcher } from '../helpers/smtp.js';
import { startReceiver, type ReceivedDelivery, type TestReceiver } from '../helpers/webhook-receiver.js';

let server: TestServer;
let smtp: MailCatcher;

test.before(async () => {
  smtp = await startMailCatcher();
  server = await startTestServer({ LATCHKEY_SMTP_URL: smtp.url, LATCHKEY_SIGNUP: 'true', LATCHKEY_WEBHOOK_POLL_INTERVAL: '100ms' });
});

test.after.always(async () => {
  await server?.dispose();
  await smtp?.close();
});

/** A receiver with a webhook of its own, subscribed to `eventTypes`. */
async function subscribe(t: { teardown(fn: () => Promise<void>): void }, eventTypes: string[] = ['*']): Promise<TestReceiver> {
  const receiver = await startReceiver();
  const { webhook, secret } = await createWebhook(server.deps, testActor, { url: receiver.url, eventTypes });
  receiver.secret = secret;
  t.teardown(async () => {
    await deleteWebhook(server.deps, testActor, webhook.id);
    await receiver.close();
  });
  return receiver;
}

const newEmail = () => `wh-${randomBytes(5).toString('hex')}@example.com`;
const goodPassword = () => `correct horse ${randomBytes(4).toString('hex')}`;

/** Waits until no delivery is pending any more, so "nothing else arrived" means something. */
async function settled(): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const [row] = (await server.deps.db.knex('webhook_deliveries').where({ status: 'pending' }).count({ count: '*' })) as Array<{ count: unknown }>;
    if (Number(row?.count) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('deliveries still pending after 15 s');
}

function byTime(deliveries: ReceivedDelivery[]): ReceivedDelivery[] {
  return [...deliveries].sort((a, b) => a.payload!.timestamp.localeCompare(b.payload!.timestamp));
}

test.serial('every delivery verifies with a Standard Webhooks library; a tampered one or an old timestamp does not', async (t) => {
  const receiver = await subscribe(t, ['user.created']);
  await createUser(server.deps, testActor, { email: newEmail(), password: goodPassword() });
  const [delivery] = await receiver.waitFor(1);
  t.is(delivery!.payload!.type, 'user.created');
  t.is(delivery!.payload!.id, delivery!.id, 'the payload id is the webhook-id header');
  t.regex(delivery!.signature, /^v1,[A-Za-z0-9+/]+=*$/);
  t.true(Math.abs(Number(delivery!.timestamp) - Date.now() / 1000) < 60);

  const verifier = new Webhook(receiver.secret!);
  const headers = { 'webhook-id': delivery!.id, 'webhook-timestamp': delivery!.timestamp, 'webhook-signature': delivery!.signature };
  t.notThrows(() => verifier.verify(delivery!.body, headers));
  t.throws(() => verifier.verify(delivery!.body.replace('user.created', 'user.deleted'), headers), { instanceOf: WebhookVerificationError });
  const flipped = delivery!.signature.slice(0, -2) + (delivery!.signature.endsWith('A=') ? 'B=' : 'A=');
  t.throws(() => verifier.verify(delivery!.body, { ...headers, 'webhook-signature': flipped }), { instanceOf: WebhookVerificationError });
  t.throws(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(delivery!.body, headers), { instanceOf: WebhookVerificationError });
  // Signed correctly, but ten minutes ago: a replay.
  const old = new Date(Date.now() - 600_000);
  const replay = { ...headers, 'webhook-timestamp': String(Math.floor(old.getTime() / 1000)), 'webhook-signature': verifier.sign(delivery!.id, old, delivery!.body) };
  t.throws(() => verifier.verify(delivery!.body, replay), { instanceOf: WebhookVerificationError, message: /too old/i });
});

test.serial('a sign-up through the pages produces exactly user.created, user.email_verified, user.signed_in and grant.created', async (t) => {
  const rp = await registerRp(server);
  const receiver = await subscribe(t);
  const browser = new Browser();
  const request = await authorizationRequest(rp);
  const login = await go(browser, rp, request.url);
  t.true(isLoginPage(login));
  const signup = await openPage(browser, new URL(linkOn(login.html, /^\/signup\?/)!, login.url));
  const email = newEmail();
  const password = goodPassword();
  t.is((await submitPage(browser, signup, '/signup', { name: 'Wren Hook', email, password })).status, 200);

  const [created] = await receiver.waitFor(1);
  t.is(created!.payload!.type, 'user.created');
  t.like(created!.payload!.data, { created_via: 'signup', user: { email, email_verified: false, name: 'Wren Hook', disabled: false } });

  const mail = await smtp.next(email, (candidate) => candidate.subject === 'Confirm your email address');
  const confirmPage = await openPage(browser, linkIn(mail, '/verify-email'));
  const confirmed = await submitPage(browser, confirmPage, '/verify-email');
  let step: Step = await go(browser, rp, new URL(linkOn(confirmed.html, /^\/interaction\//)!, server.issuer));
  step = await submitLogin(browser, rp, step, { email, password });
  t.true(isConsentPage(step));
  step = await submitConsent(browser, rp, step);
  const tokens = await redeem(rp, step.url, request);
  const userId = tokens.claims()!.sub;

  await receiver.waitFor(4);
  await settled();
  const received = byTime(receiver.deliveries.filter((delivery) => delivery.verified));
  t.deepEqual(
    received.map((delivery) => delivery.payload!.type),
    ['user.created', 'user.email_verified', 'user.signed_in', 'grant.created'],
  );
  t.is(new Set(received.map((delivery) => delivery.id)).size, 4, 'each event has its own id');
  t.like(received[1]!.payload!.data, { user: { id: userId, email, email_verified: true } });
  t.like(received[2]!.payload!.data, { user: { id: userId }, client_id: rp.clientId });
  t.like(received[3]!.payload!.data, { user_id: userId, client_id: rp.clientId, scope: 'openid profile email' });
  const [grant] = await listUserGrants(server.deps, userId);
  t.is(received[3]!.payload!.data.grant_id, grant!.grantId);
});

test.serial('a change that rolls back emits nothing', async (t) => {
  const receiver = await subscribe(t);
  const email = newEmail();
  // A user created inside a transaction that then fails, as a multi-step domain change would.
  await t.throwsAsync(
    server.deps.db.knex.transaction(async (trx) => {
      await createUser(server.deps, testActor, { email, password: goodPassword() }, { trx });
      throw new Error('a later step failed');
    }),
    { message: 'a later step failed' },
  );
  // A password change whose authorisation fails after the row was written.
  const user = await createUser(server.deps, testActor, { email: newEmail(), password: goodPassword() });
  await receiver.waitFor(1);
  await t.throwsAsync(
    setUserPassword(server.deps, testActor, user.id, { password: goodPassword() }, {
      async authorise() {
        throw new LatchkeyError('email_link.invalid');
      },
    }),
    { instanceOf: LatchkeyError },
  );
  // Taken address: the update fails inside its transaction.
  await t.throwsAsync(updateUser(server.deps, testActor, user.id, { email: (await createUser(server.deps, testActor, { email: newEmail(), password: goodPassword() })).email }));
  await receiver.waitFor(2);
  await settled();
  const events = await server.deps.db.knex('webhook_events').select('type', 'payload');
  t.false(events.some((event: { payload: string }) => event.payload.includes(email)), 'no event for the rolled-back user');
  t.deepEqual(
    receiver.deliveries.map((delivery) => delivery.payload!.type),
    ['user.created', 'user.created'],
    'only the two users that exist',
  );
});

test.serial('no payload carries a secret, a hash, a token or a code, and every payload matches its documented schema', async (t) => {
  const receiver = await subscribe(t);
  const password = goodPassword();
  const user = await createUser(server.deps, testActor, { email: newEmail(), password, name: 'Sam Secret', emailVerified: true });
  const rp = await registerRp(server);
  const browser = new Browser();
  const { callback, request } = await signIn(browser, rp, { email: user.email, password });
  const tokens = await redeem(rp, callback, request);
  const stranger = new Browser();
  const failed = await go(stranger, rp, (await authorizationRequest(rp)).url);
  await submitLogin(stranger, rp, failed, { email: user.email, password: 'not the password at all' });
  // The password typed into the email field, as people do: it must not leave in an event.
  const slip = await go(stranger, rp, (await authorizationRequest(rp)).url);
  await submitLogin(stranger, rp, slip, { email: password, password: 'anything' });
  const [grant] = await listUserGrants(server.deps, user.id);
  await revokeGrant(server.deps, testActor, grant!.grantId);
  const newPassword = goodPassword();
  await setUserPassword(server.deps, testActor, user.id, { password: newPassword });
  await updateUser(server.deps, testActor, user.id, { name: 'Sam Renamed' });
  await disableUser(server.deps, testActor, user.id);
  await enableUser(server.deps, testActor, user.id);
  const { client, clientSecret = '' } = await createClient(server.deps, testActor, { name: 'Secretive', redirectUris: ['https://secretive.example/cb'] });
  await updateClient(server.deps, testActor, client.clientId, { name: 'Secretive 2' });
  const rotated = await rotateClientSecret(server.deps, testActor, client.clientId, { graceSeconds: 60 });
  await deleteClient(server.deps, testActor, client.clientId);
  await deleteUser(server.deps, testActor, user.id);

  await receiver.waitFor(16);
  await settled();
  const received = receiver.deliveries.filter((delivery) => delivery.verified);
  const types = new Set(received.map((delivery) => delivery.payload!.type));
  for (const type of EVENT_TYPES.filter((name) => !['user.locked_out', 'user.email_verified'].includes(name))) t.true(types.has(type), `${type} was sent`);

  const forbidden = [password, newPassword, clientSecret, rotated.clientSecret ?? "no secret", receiver.secret!, tokens.access_token, tokens.id_token!, tokens.refresh_token ?? 'no refresh token', callback.searchParams.get('code')!];
  for (const delivery of received) {
    for (const secret of forbidden) t.false(delivery.body.includes(secret), `${delivery.payload!.type} carries a secret`);
    t.notRegex(delivery.body, /\$argon2|\$2[aby]\$|whsec_|"client_secret"|password_hash|"v1\./, `${delivery.payload!.type} carries a hash or secret field`);
    const { type, data } = delivery.payload!;
    t.true(isEventType(type));
    // Exactly the documented fields: a strict parse fails on anything extra.
    if (isEventType(type)) t.true(EVENT_CATALOG[type].data.strict().safeParse(data).success, `${type} matches its schema`);
  }
});

test.serial('an import sends user.created for each imported user, and none of their password hashes', async (t) => {
  const receiver = await subscribe(t, ['user.created']);
  const hash = await bcrypt.hash('imported password', 4);
  const emails = [newEmail(), newEmail(), newEmail()];
  const content = emails.map((email) => JSON.stringify({ email, email_verified: true, password_hash: hash })).join('\n');
  const result = await importUsers(server.deps, testActor, content);
  t.is(result.imported, 3);
  const received = await receiver.waitFor(3);
  t.deepEqual(received.map((delivery) => (delivery.payload!.data.user as { email: string }).email).sort(), [...emails].sort());
  t.true(received.every((delivery) => delivery.payload!.data.created_via === 'import' && !delivery.body.includes(hash)));
});

test.serial('the delivery log records each attempt with its status code and latency', async (t) => {
  const receiver = await subscribe(t, ['user.created']);
  await createUser(server.deps, testActor, { email: newEmail(), password: goodPassword() });
  await receiver.waitFor(1);
  await settled();
  const [webhook] = (await server.deps.db.knex('webhook_endpoints').where({ url: receiver.url }).select('id')) as Array<{ id: string }>;
  const [logged] = (await listWebhookDeliveries(server.deps, webhook!.id)).items;
  t.like(logged, { status: 'succeeded', attempts: 1, eventId: receiver.deliveries[0]!.id, eventType: 'user.created', lastStatusCode: 204 });
  t.is(logged!.attemptLog.length, 1);
  t.like(logged!.attemptLog[0], { attempt: 1, statusCode: 204, error: null, succeeded: true });
  t.true(logged!.attemptLog[0]!.latencyMs >= 0);
});
