import test from 'ava';
import { listAuditEvents, type AuditEventType } from '../../src/domain/audit.js';
import { factorsOf } from '../../src/domain/factors/summary.js';
import { Browser, findForm, openPage, signInThrough, submitPage } from '../helpers/browser.js';
import { afterPassword, enrolTotp, idTokenClaims, postForm, secretOnPage, toCallback, totpCode } from '../helpers/factors.js';
import { createTestUser, registerRp, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Sign-in with an authenticator app (TOTP) and recovery codes, through the real pages and an
// openid-client relying party. Codes are computed here from the secret, as the user's phone would.

const FAILURES_ALLOWED = 3;

let server: TestServer;
let rp: RelyingParty;

test.before(async () => {
  server = await startTestServer({ LATCHKEY_THROTTLE_FAILURES: String(FAILURES_ALLOWED) });
  rp = await registerRp(server);
});

test.after.always(async () => {
  await server?.dispose();
});

const url = (path: string) => `${server.issuer}${path}`;
const now = () => Math.floor(Date.now() / 1000);

async function auditOf(type: AuditEventType, userId: string) {
  return (await listAuditEvents(server.deps, { type, subjectId: userId })).items;
}

test('an authenticator app is set up on the account page: QR code and secret, confirmed with a first code, recovery codes shown once, the secret sealed', async (t) => {
  const user = await createTestUser(server);
  const browser = new Browser();
  const start = await signInThrough(browser, url('/account/security'), user);
  t.is(start.status, 200);
  t.false(start.html.includes('action="/account/security/recovery-codes"'), 'no recovery codes without a factor');
  t.regex(start.html, /href="\/account\/security\/totp"/);

  const setup = await openPage(browser, url('/account/security/totp'));
  t.is(setup.status, 200);
  // Drawn on the server, inline: no image service sees the secret.
  t.regex(setup.html, /<figure class="qr-code"><svg\b[^>]*>[\s\S]*<\/svg>/);
  t.notRegex(setup.html, /<img\b/);
  const secret = secretOnPage(setup.html);
  t.regex(secret, /^[A-Z2-7]{16,}$/);

  const stored = await server.deps.db.knex('totp_factors').where({ user_id: user.id }).first();
  t.truthy(stored);
  t.is(stored.confirmed_at, null, 'not a factor until a code confirms it');
  t.false(String(stored.secret_sealed).includes(secret), 'the secret is sealed, not stored as it is');
  t.false((await factorsOf(server.deps, user.id)).totp);

  const wrong = await submitPage(browser, setup, '/account/security/totp', { code: await totpCode(secret, now() - 3600) });
  t.is(wrong.status, 400);
  t.regex(wrong.html, /role="alert"/);
  t.false((await factorsOf(server.deps, user.id)).totp);

  const confirmed = await submitPage(browser, setup, '/account/security/totp', { code: await totpCode(secret) });
  t.is(confirmed.status, 200);
  const codes = [...confirmed.html.matchAll(/<li><code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})<\/code><\/li>/g)].map((match) => match[1]!);
  t.is(codes.length, 10);
  t.is(new Set(codes).size, 10);
  t.deepEqual(await factorsOf(server.deps, user.id), { totp: true, passkeys: 0, recoveryCodesLeft: 10 });
  const hashes = (await server.deps.db.knex('recovery_codes').where({ user_id: user.id }).select('code_hash')).map((row: { code_hash: string }) => row.code_hash);
  t.is(hashes.length, 10);
  t.false(hashes.some((hash) => codes.some((code) => hash.includes(code) || hash.includes(code.replaceAll('-', '')))), 'recovery codes are stored hashed');
  t.is((await auditOf('user.factor_added', user.id)).length, 1);
  t.is((await auditOf('user.recovery_codes_issued', user.id)).length, 1);

  // Shown once: the page afterwards counts them and never shows them again.
  const later = await openPage(browser, url('/account/security'));
  t.false(codes.some((code) => later.html.includes(code)));
  t.regex(later.html, /10 unused recovery codes/);
  t.regex(later.html, /action="\/account\/security\/totp\/remove"/);

  // Removing the app takes the recovery codes with it: they stood in for it.
  const removed = await submitPage(browser, later, '/account/security/totp/remove');
  t.is(removed.status, 303);
  t.deepEqual(await factorsOf(server.deps, user.id), { totp: false, passkeys: 0, recoveryCodesLeft: 0 });
  t.is(await server.deps.db.knex('recovery_codes').where({ user_id: user.id }).count('* as n').first().then((row) => Number(row!.n)), 0);
  t.is((await auditOf('user.factor_removed', user.id)).length, 1);
});

test('after the password, an enrolled user gives a code; the ID token says pwd + otp + mfa at acr mfa; the same code is refused the next time', async (t) => {
  const user = await createTestUser(server);
  const { secret } = await enrolTotp(server, user);
  // The enrolment used the code of this 30-second step; the app's next code is good.
  const code = await totpCode(secret, now() + 30);

  const browser = new Browser();
  const { request, step } = await afterPassword(browser, rp, user);
  t.is(step.response.status, 200);
  t.regex(step.url.pathname, /^\/interaction\/[^/]+\/mfa$/);
  t.regex(step.html, /autocomplete="one-time-code"/);
  t.regex(step.html, /href="\/interaction\/[^/]+\/mfa\/recovery"/);

  const callback = await toCallback(browser, rp, await postForm(browser, rp, step, '/mfa/totp', { code }));
  const claims = await idTokenClaims(rp, callback, request);
  t.deepEqual([...(claims.amr as string[])].sort(), ['mfa', 'otp', 'pwd']);
  t.is(claims.acr, 'urn:latchkey:acr:mfa');
  const [signedIn] = await auditOf('user.signed_in', user.id);
  t.deepEqual((signedIn!.details as { amr: string[] }).amr, claims.amr);

  // A new sign-in in the same 30 seconds: whoever saw that code cannot use it again.
  const again = new Browser();
  const second = await afterPassword(again, rp, user);
  const replayed = await postForm(again, rp, second.step, '/mfa/totp', { code });
  t.is(replayed.response.status, 401);
  t.regex(replayed.html, /role="alert"/);
  t.regex(replayed.url.pathname, /\/mfa$/);
  const failures = await auditOf('user.second_factor_failed', user.id);
  t.is(failures.length, 1);
  t.like(failures[0]!.details, { method: 'totp', client_id: rp.clientId });
});

test('wrong codes are throttled per account: 429 with Retry-After after the allowed failures, each audited, said in the user\'s language', async (t) => {
  const user = await createTestUser(server);
  const { secret } = await enrolTotp(server, user);
  const browser = new Browser(fetch, 'de');
  let { step } = await afterPassword(browser, rp, user);
  const wrong = await totpCode(secret, now() - 3600);
  for (let attempt = 1; attempt <= FAILURES_ALLOWED; attempt += 1) {
    step = await postForm(browser, rp, step, '/mfa/totp', { code: wrong });
    t.is(step.response.status, 401, `attempt ${attempt}`);
    t.regex(step.html, /Dieser Code stimmt nicht\. Versuche es erneut\./);
  }
  // Even the right code now waits: the limit holds whatever is sent.
  const blocked = await postForm(browser, rp, step, '/mfa/totp', { code: await totpCode(secret, now() + 30) });
  t.is(blocked.response.status, 429);
  t.true(Number(blocked.response.headers.get('retry-after')) >= 1);
  t.regex(blocked.html, /role="alert" id="mfa-error">Zu viele Versuche/);
  t.true((await factorsOf(server.deps, user.id)).totp);

  const failures = await auditOf('user.second_factor_failed', user.id);
  t.is(failures.length, FAILURES_ALLOWED);
  t.true(failures.every((event) => event.outcome === 'failure'));
  const [lockedOut] = await auditOf('user.locked_out', user.id);
  t.like(lockedOut?.details, { action: 'second-factor' });
});

test('a burst of parallel wrong codes gets no more tries than the limit: each attempt is counted before it is checked', async (t) => {
  const user = await createTestUser(server);
  await enrolTotp(server, user);
  const browser = new Browser();
  const { step } = await afterPassword(browser, rp, user);
  const form = findForm(step.html, '/mfa/totp');
  const guesses = await Promise.all(
    Array.from({ length: 12 }, (_, index) => browser.post(new URL(form.action, step.url), { ...form.fields, code: String(100000 + index) })),
  );
  const statuses = guesses.map((response) => response.status);
  // Twelve arbitrary codes at once: refused, and no more of them checked than the limit allows.
  t.true(statuses.every((status) => status === 401 || status === 429), statuses.join(' '));
  t.true(statuses.filter((status) => status === 401).length <= FAILURES_ALLOWED, statuses.join(' '));
  t.true((await auditOf('user.second_factor_failed', user.id)).length <= FAILURES_ALLOWED);
});

test('a recovery code signs in once: the notice says how many are left, the use is audited, and the same code is refused after', async (t) => {
  const user = await createTestUser(server);
  const { recoveryCodes } = await enrolTotp(server, user);
  const code = recoveryCodes[3]!;

  const browser = new Browser();
  const { request, step } = await afterPassword(browser, rp, user);
  const recoveryPage = await openPage(browser, new URL(`${step.url.pathname}/recovery`, step.url));
  t.is(recoveryPage.status, 200);
  // Typed in lower case without dashes, as people do.
  const notice = await postForm(browser, rp, recoveryPage, '/mfa/recovery', { code: code.toLowerCase().replaceAll('-', '') });
  t.is(notice.response.status, 200);
  t.regex(notice.html, /9 recovery codes left/);
  const callback = await toCallback(browser, rp, await postForm(browser, rp, notice, '/mfa/continue'));
  const claims = await idTokenClaims(rp, callback, request);
  t.deepEqual([...(claims.amr as string[])].sort(), ['mfa', 'otp', 'pwd']);
  t.is(claims.acr, 'urn:latchkey:acr:mfa');
  const [used] = await auditOf('user.recovery_code_used', user.id);
  t.like(used?.details, { left: 9 });
  t.is((await factorsOf(server.deps, user.id)).recoveryCodesLeft, 9);

  const again = new Browser();
  const second = await afterPassword(again, rp, user);
  const page = await openPage(again, new URL(`${second.step.url.pathname}/recovery`, second.step.url));
  const refused = await postForm(again, rp, page, '/mfa/recovery', { code });
  t.is(refused.response.status, 401);
  t.regex(refused.html, /role="alert"/);
  t.like((await auditOf('user.second_factor_failed', user.id))[0]?.details, { method: 'recovery_code' });
  t.is((await factorsOf(server.deps, user.id)).recoveryCodesLeft, 9);
});

test('a user without a second factor signs in with the password alone: acr single-factor, amr pwd', async (t) => {
  const user = await createTestUser(server);
  const browser = new Browser();
  const { request, step } = await afterPassword(browser, rp, user);
  const claims = await idTokenClaims(rp, await toCallback(browser, rp, step), request);
  t.deepEqual(claims.amr, ['pwd']);
  t.is(claims.acr, 'urn:latchkey:acr:single-factor');
});
