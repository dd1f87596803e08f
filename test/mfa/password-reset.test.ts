import { randomBytes } from 'node:crypto';
import test from 'ava';
import { listAuditEvents } from '../../src/domain/audit.js';
import { factorsOf } from '../../src/domain/factors/summary.js';
import { Browser, linkOn, openPage, submitPage } from '../helpers/browser.js';
import { enrolTotp, idTokenClaims, postForm, toCallback, totpCode } from '../helpers/factors.js';
import { authorizationRequest, createTestUser, go, isLoginPage, registerRp, submitLogin } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { linkIn, startMailCatcher, type MailCatcher } from '../helpers/smtp.js';

// A forgotten password is not a lost second factor: whoever controls the mailbox can choose a
// new password, and still needs the code to sign in.

let server: TestServer;
let smtp: MailCatcher;

test.before(async () => {
  smtp = await startMailCatcher();
  server = await startTestServer({ LATCHKEY_SMTP_URL: smtp.url, LATCHKEY_ENV: 'test' });
});

test.after.always(async () => {
  await server?.dispose();
  await smtp?.close();
});

test('a user with an authenticator app resets the password by email; the factors stay and the next sign-in still asks for the code', async (t) => {
  const user = await createTestUser(server);
  const { secret } = await enrolTotp(server, user);
  const rp = await registerRp(server);

  // The reset starts from the sign-in page, as a user who forgot the password starts it.
  const browser = new Browser();
  const request = await authorizationRequest(rp);
  const login = await go(browser, rp, request.url);
  const uid = /\/interaction\/([^/]+)\/login/.exec(login.html)![1]!;
  const forgot = await openPage(browser, new URL(linkOn(login.html, /^\/password\/forgot\?/)!, login.url));
  t.is((await submitPage(browser, forgot, '/password/forgot', { email: user.email })).status, 200);
  const link = linkIn(await smtp.next(user.email, (mail) => mail.subject === 'Reset your password'), '/password/reset');
  const password = `a brand new phrase ${randomBytes(4).toString('hex')}`;
  const changed = await submitPage(browser, await openPage(browser, link), '/password/reset', { password });
  t.is(changed.status, 200);
  t.is(linkOn(changed.html, /^\/interaction\//), `/interaction/${uid}`, 'back to the sign-in, not past it');
  t.deepEqual(await factorsOf(server.deps, user.id), { totp: true, passkeys: 0, recoveryCodesLeft: 10 });
  t.is((await listAuditEvents(server.deps, { type: 'user.factors_reset', subjectId: user.id })).items.length, 0);

  const back = await go(browser, rp, new URL(`/interaction/${uid}`, server.issuer));
  t.true(isLoginPage(back));
  const codePage = await submitLogin(browser, rp, back, { email: user.email, password });
  t.is(codePage.response.status, 200);
  t.regex(codePage.url.pathname, /\/mfa$/, 'the new password alone does not sign in');

  // The enrolment used this 30-second step's code; the app's next one is good.
  const code = await totpCode(secret, Math.floor(Date.now() / 1000) + 30);
  const callback = await toCallback(browser, rp, await postForm(browser, rp, codePage, '/mfa/totp', { code }));
  const claims = await idTokenClaims(rp, callback, request);
  t.is(claims.acr, 'urn:latchkey:acr:mfa');
  t.deepEqual([...(claims.amr as string[])].sort(), ['mfa', 'otp', 'pwd']);
});
