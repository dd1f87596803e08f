import { Writable } from 'node:stream';
import test from 'ava';
import { DeviceSignInError, signInOnDevice, type DeviceSignIn } from '../../examples/device-cli/device-cli.js';
import { DEFAULT_SCOPE, deviceCliOptionsFromEnv } from '../../examples/device-cli/env.js';
import { DEVICE_CODE_GRANT } from '../../src/domain/clients.js';
import { Browser, findForm, openPage, submitPage } from '../helpers/browser.js';
import { createTestUser, go, isConsentPage, isLoginPage, registerRp, submitConsent, submitLogin, type RelyingParty, type Step, type TestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Each sign-in polls at the RFC's default interval of 5 seconds, and its first poll only
// learns the DPoP nonce: a sign-in takes about 10 seconds. The tests run concurrently.

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

/** The device client as the README registers it: public, device code and refresh grants, DPoP-bound tokens. */
async function deviceClient(): Promise<RelyingParty> {
  return registerRp(server, {
    name: 'Device CLI',
    public: true,
    grantTypes: [DEVICE_CODE_GRANT, 'refresh_token'],
    redirectUris: [],
    postLogoutRedirectUris: [],
    scope: DEFAULT_SCOPE,
    dpopBoundAccessTokens: true,
  });
}

/** The terminal: what the example prints, and a wait for a line to appear. */
class Terminal extends Writable {
  text = '';
  private waiters: Array<() => void> = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    for (const wake of this.waiters.splice(0)) wake();
    done();
  }

  async waitFor(pattern: RegExp, ms = 10_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const match = pattern.exec(this.text);
      if (match) return match;
      if (Date.now() > deadline) throw new Error(`the example never printed ${pattern}; it printed:\n${this.text}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }
}

/** Starts the example as main.ts does, and reads the code it shows. */
async function startSignIn(rp: RelyingParty, signal?: AbortSignal) {
  const terminal = new Terminal();
  const running = signInOnDevice({ issuer: server.issuer, clientId: rp.clientId, scope: DEFAULT_SCOPE }, { output: terminal, ...(signal ? { signal } : {}) });
  // Surfaced by whoever awaits it; this keeps an early failure from being an unhandled rejection.
  running.catch(() => {});
  const [, verificationUri, userCode] = await Promise.race([
    terminal.waitFor(/^Open (\S+) and enter ([A-Z]{4}-[A-Z]{4})$/m),
    running.then(() => Promise.reject(new Error('the example finished before showing a code'))),
  ]);
  return { terminal, running, verificationUri: verificationUri!, userCode: userCode! };
}

/** The person on their phone: /device, the code, "yes, that is my device", sign-in, consent. */
async function approve(rp: RelyingParty, verificationUri: string, userCode: string, user: TestUser, choice: 'confirm' | 'abort' = 'confirm'): Promise<Step> {
  const browser = new Browser();
  const entry = await openPage(browser, verificationUri);
  const confirm = await submitPage(browser, entry, '/device', { user_code: userCode });
  if (confirm.status !== 200) throw new Error(`the code page answered ${confirm.status}:\n${confirm.html}`);
  const form = findForm(confirm.html, '/device');
  const response = await browser.post(new URL(form.action, confirm.url), { ...form.fields, [choice]: 'yes' });
  const location = response.headers.get('location');
  let step: Step = location ? await go(browser, rp, new URL(location, confirm.url)) : { url: confirm.url, response, html: await response.text() };
  if (isLoginPage(step)) step = await submitLogin(browser, rp, step, user);
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  return step;
}

test('the device CLI shows a code, the user approves it on /device, and it prints who signed in and what userinfo says, with DPoP-bound tokens', async (t) => {
  const rp = await deviceClient();
  const user = await createTestUser(server, { name: 'Ada Lovelace' });
  const { terminal, running, verificationUri, userCode } = await startSignIn(rp);
  t.is(verificationUri, `${server.issuer}/device`);
  t.regex(terminal.text, new RegExp(`^\\(or open ${server.issuer}/device\\?user_code=${userCode}, which fills in the code\\)$`, 'm'));

  const done = await approve(rp, verificationUri, userCode, user);
  t.true(done.html.includes('You can return to your device'), done.html);

  const result: DeviceSignIn = await running;
  t.is(result.claims.sub, user.id);
  t.like(result.userinfo, { sub: user.id, email: user.email, name: 'Ada Lovelace' });
  t.is(result.tokenType.toLowerCase(), 'dpop');
  t.true(result.refreshToken);

  const lines = terminal.text.split('\n');
  t.true(lines.includes(`Signed in as ${user.email} (sub ${user.id})`), terminal.text);
  t.like(JSON.parse(lines.find((line) => line.startsWith('ID token: '))?.slice('ID token: '.length) ?? '{}'), { iss: server.issuer, sub: user.id, aud: rp.clientId });
  t.true(lines.includes(`Access token: DPoP, bound to key ${result.jkt}`), terminal.text);
  const userinfo = lines.find((line) => line.startsWith('Userinfo: '));
  t.like(JSON.parse(userinfo?.slice('Userinfo: '.length) ?? '{}'), { sub: user.id, email: user.email });
});

test('cancelling on the other device ends the CLI with a message', async (t) => {
  const rp = await deviceClient();
  const user = await createTestUser(server);
  const { running, verificationUri, userCode } = await startSignIn(rp);
  const cancelled = await approve(rp, verificationUri, userCode, user, 'abort');
  t.true(cancelled.html.includes('The sign-in was cancelled.'));
  const error = await t.throwsAsync(running, { instanceOf: DeviceSignInError });
  t.is(error.message, 'The sign-in was cancelled on the other device.');
});

test('aborting the signal (Ctrl-C) stops the polling at once', async (t) => {
  const rp = await deviceClient();
  const controller = new AbortController();
  const { running } = await startSignIn(rp, controller.signal);
  const started = Date.now();
  controller.abort();
  const error = await t.throwsAsync(running, { instanceOf: DeviceSignInError });
  t.is(error.message, 'Sign-in cancelled.');
  t.true(Date.now() - started < 2000);
});

test('an unknown client is refused before any code is shown', async (t) => {
  const terminal = new Terminal();
  const error = await t.throwsAsync(signInOnDevice({ issuer: server.issuer, clientId: 'no-such-client', scope: DEFAULT_SCOPE }, { output: terminal }), {
    instanceOf: DeviceSignInError,
  });
  t.regex(error.message, /^Latchkey did not start the sign-in: invalid_client/);
  t.is(terminal.text, '');
});

test('the device CLI names a missing or malformed setting on one line', (t) => {
  const missing = t.throws(() => deviceCliOptionsFromEnv({}));
  t.is(
    missing.message,
    "cannot sign in from this device: ISSUER is not set: give Latchkey's URL, e.g. http://localhost:3000; CLIENT_ID is not set: give the client_id that `latchkey clients create` printed for this device client (see examples/device-cli/README.md)",
  );
  const wrong = t.throws(() => deviceCliOptionsFromEnv({ ISSUER: 'localhost:3000', CLIENT_ID: 'cli', SCOPE: 'profile' }));
  t.notRegex(wrong.message, /\n/);
  t.regex(wrong.message, /ISSUER is not an http\(s\) URL: localhost:3000/);
  t.regex(wrong.message, /SCOPE must include openid/);
  t.deepEqual(deviceCliOptionsFromEnv({ ISSUER: ' http://localhost:3000 ', CLIENT_ID: 'cli' }), { issuer: 'http://localhost:3000', clientId: 'cli', scope: DEFAULT_SCOPE });
});
