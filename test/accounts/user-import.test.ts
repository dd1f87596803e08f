import { execFile } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { listAuditEvents } from '../../src/domain/audit.js';
import { findUserByEmail, replacePasswordHash, updateUser } from '../../src/store/users.js';
import { assertOneLineError, cliFor, json } from '../cli/support.js';
import { adminClientToken } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { authorizationRequest, createTestUser, go, redeem, registerRp, submitLogin, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let rp: RelyingParty;
let adminToken: string;
let adminClientId: string;
let cli: ReturnType<typeof cliFor>;
let workDir: string;

/** Dummy argon2 verifies by the password tried: tests run at once, so each counts only its own. */
const dummyVerifies = new Map<string, number>();

test.before(async () => {
  server = await startTestServer();
  const passwords = server.deps.passwords;
  const verifyDummy = passwords.verifyDummy.bind(passwords);
  passwords.verifyDummy = (candidate) => {
    dummyVerifies.set(candidate, (dummyVerifies.get(candidate) ?? 0) + 1);
    return verifyDummy(candidate);
  };
  rp = await registerRp(server, { firstParty: true });
  const admin = await adminClientToken(server);
  adminToken = admin.token;
  adminClientId = admin.rp.clientId;
  cli = cliFor(server);
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-import-'));
});

test.after.always(async () => {
  await server?.dispose();
  if (workDir) await fs.rm(workDir, { recursive: true, force: true });
});

interface ImportResult {
  source: string;
  imported: number;
  skipped: Array<{ line: number; email: string | null; reason: string }>;
}

const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');
const ab64 = (bytes: Buffer) => b64(bytes).replaceAll('+', '.');

function pbkdf2Phc(digest: 'sha256' | 'sha512', password: string): string {
  const salt = randomBytes(16);
  const bytes = digest === 'sha256' ? 32 : 64;
  return `$pbkdf2-${digest}$i=1000,l=${bytes}$${b64(salt)}$${b64(pbkdf2Sync(password, salt, 1000, bytes, digest))}`;
}

function pbkdf2Passlib(password: string): string {
  const salt = randomBytes(16);
  return `$pbkdf2-sha256$1000$${ab64(salt)}$${ab64(pbkdf2Sync(password, salt, 1000, 32, 'sha256'))}`;
}

function newEmail(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}@example.com`;
}

function jsonLines(records: unknown[]): string {
  return `${records.map((record) => (typeof record === 'string' ? record : JSON.stringify(record))).join('\n')}\n`;
}

async function postImport(body: string, contentType: string) {
  const response = await fetch(`${server.issuer}/admin/api/v1/users/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': contentType },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function importThroughApi(t: ExecutionContext, body: string, contentType: string): Promise<ImportResult> {
  const response = await postImport(body, contentType);
  t.is(response.status, 200, JSON.stringify(response.body));
  return response.body as unknown as ImportResult;
}

/** Signs in through the login page as an app would; the subject on success, the page's error otherwise. */
async function signIn(email: string, password: string): Promise<{ sub: string } | { error: string }> {
  const browser = new Browser();
  const request = await authorizationRequest(rp);
  const step = await submitLogin(browser, rp, await go(browser, rp, request.url), { email, password });
  if (!step.url.href.startsWith(rp.redirectUri)) {
    return { error: /id="login-error">([^<]*)</.exec(step.html)?.[1] ?? `no error shown (${step.response.status})` };
  }
  const tokens = await redeem(rp, step.url, request);
  return { sub: tokens.claims()!.sub };
}

async function storedHash(email: string): Promise<string | null | undefined> {
  return (await findUserByEmail(server.deps.db.knex, email))?.passwordHash;
}

/** What every imported format must do: a wrong password fails, the right one signs in and leaves an argon2id hash with the server's parameters. */
async function assertSignsInAndUpgrades(t: ExecutionContext, email: string, password: string, importedHash: string) {
  const wrong = `${password}-wrong-${randomBytes(4).toString('hex')}`;
  t.deepEqual(await signIn(email, wrong), { error: 'The email or password is not correct.' }, email);
  // A legacy hash can fail far faster than argon2; the failure pays an argon2 verify as an unknown address does.
  t.is(dummyVerifies.get(wrong) ?? 0, importedHash.startsWith('$argon2') ? 0 : 1, 'a failed legacy hash costs an argon2 verify too');
  t.is(await storedHash(email), importedHash, 'a failed sign-in leaves the hash alone');
  const user = await findUserByEmail(server.deps.db.knex, email);
  t.deepEqual(await signIn(email, password), { sub: user!.id }, email);
  const upgraded = (await storedHash(email))!;
  const { memoryKib, time, parallelism } = server.config.argon2;
  t.true(upgraded.startsWith('$argon2id$v=19$'), upgraded);
  t.deepEqual(Object.fromEntries(upgraded.split('$')[3]!.split(',').map((pair) => pair.split('='))), { m: String(memoryKib), t: String(time), p: String(parallelism) });
  t.not(upgraded, importedHash);
  t.deepEqual(await signIn(email, password), { sub: user!.id }, 'the new hash signs in too');
}

test('JSON lines with bcrypt, passlib PBKDF2-SHA256 and PHC PBKDF2-SHA512 hashes sign in, and each hash becomes argon2id', async (t) => {
  const users = [
    { email: newEmail('bcrypt'), password: 'bcrypt password 1', hash: '' },
    { email: newEmail('passlib'), password: 'passlib password 2', hash: '' },
    { email: newEmail('sha512'), password: 'pbkdf2 password 3', hash: '' },
  ];
  users[0]!.hash = await bcrypt.hash(users[0]!.password, 4);
  users[1]!.hash = pbkdf2Passlib(users[1]!.password);
  users[2]!.hash = pbkdf2Phc('sha512', users[2]!.password);
  const result = await importThroughApi(
    t,
    jsonLines(users.map((user) => ({ email: user.email, name: 'Imported Person', email_verified: true, password_hash: user.hash }))),
    'application/x-ndjson',
  );
  t.deepEqual(result, { source: 'jsonl', imported: 3, skipped: [] });
  const first = await findUserByEmail(server.deps.db.knex, users[0]!.email);
  t.like(first, { name: 'Imported Person', emailVerified: true, createdVia: 'import', disabled: false });
  for (const user of users) await assertSignsInAndUpgrades(t, user.email, user.password, user.hash);
});

test('an Auth0 bulk-import file with argon2, pbkdf2 and bcrypt hashes signs in; blocked users come in disabled', async (t) => {
  const argonUser = { email: newEmail('auth0-argon'), password: 'auth0 argon password' };
  const pbkdf2User = { email: newEmail('auth0-pbkdf2'), password: 'auth0 pbkdf2 password' };
  const bcryptUser = { email: newEmail('auth0-bcrypt'), password: 'auth0 bcrypt password' };
  const blocked = { email: newEmail('auth0-blocked'), password: 'auth0 blocked password' };
  // Other parameters than the server's, as another provider's would be.
  const argonHash = await argon2.hash(argonUser.password, { type: argon2.argon2id, memoryCost: 2048, timeCost: 2, parallelism: 1 });
  const pbkdf2Hash = pbkdf2Phc('sha256', pbkdf2User.password);
  const bcryptHash = await bcrypt.hash(bcryptUser.password, 4);
  const file = [
    {
      user_id: 'legacy-1',
      email: argonUser.email,
      email_verified: true,
      given_name: 'Ada',
      family_name: 'Lovelace',
      custom_password_hash: { algorithm: 'argon2', hash: { value: argonHash, encoding: 'utf8' } },
      app_metadata: { plan: 'gold' },
    },
    { email: pbkdf2User.email, name: 'P. B. Kdf', custom_password_hash: { algorithm: 'pbkdf2', hash: { value: pbkdf2Hash } } },
    { email: bcryptUser.email, password_hash: bcryptHash },
    { email: blocked.email, blocked: true, password_hash: await bcrypt.hash(blocked.password, 4) },
    { email: newEmail('auth0-md4'), custom_password_hash: { algorithm: 'md4', hash: { value: 'AbuUujgF0pPPkJPSFRTpmA==', encoding: 'base64' } } },
  ];
  const result = await importThroughApi(t, JSON.stringify(file), 'application/json');
  t.is(result.source, 'auth0');
  t.is(result.imported, 4);
  t.deepEqual(result.skipped, [{ line: 4, email: file[4]!.email, reason: 'custom_password_hash.algorithm: md4 is not supported (argon2, bcrypt, pbkdf2 are)' }]);
  t.like(await findUserByEmail(server.deps.db.knex, argonUser.email), { name: 'Ada Lovelace', emailVerified: true, createdVia: 'import' });
  t.like(await findUserByEmail(server.deps.db.knex, bcryptUser.email), { name: null, emailVerified: false });
  await assertSignsInAndUpgrades(t, argonUser.email, argonUser.password, argonHash);
  await assertSignsInAndUpgrades(t, pbkdf2User.email, pbkdf2User.password, pbkdf2Hash);
  await assertSignsInAndUpgrades(t, bcryptUser.email, bcryptUser.password, bcryptHash);
  t.like(await findUserByEmail(server.deps.db.knex, blocked.email), { disabled: true });
  t.deepEqual(await signIn(blocked.email, blocked.password), { error: 'The email or password is not correct.' });
});

test('an argon2id hash made with other parameters than the configured ones is re-hashed at sign-in', async (t) => {
  const user = await createTestUser(server);
  const old = await argon2.hash(user.password, { type: argon2.argon2id, memoryCost: server.config.argon2.memoryKib * 2, timeCost: 1, parallelism: 1 });
  await updateUser(server.deps.db.knex, user.id, { passwordHash: old });
  t.true(server.deps.passwords.needsRehash(old));
  await assertSignsInAndUpgrades(t, user.email, user.password, old);
  const current = (await storedHash(user.email))!;
  t.false(server.deps.passwords.needsRehash(current));
  // A re-hash still holding the hash it verified cannot undo a password set meanwhile.
  t.false(await replacePasswordHash(server.deps.db.knex, user.id, old, await server.deps.passwords.hash(user.password)));
  t.is(await storedHash(user.email), current);
});

test('bad records are reported by line and the rest are imported; an existing user is neither overwritten nor duplicated', async (t) => {
  const existing = await createTestUser(server);
  const good = [newEmail('good-a'), newEmail('good-b')];
  const twice = newEmail('twice');
  const content = jsonLines([
    { email: good[0], password_hash: await bcrypt.hash('whatever password', 4) },
    { email: 'not-an-email', password_hash: await bcrypt.hash('whatever password', 4) },
    '',
    { email: newEmail('md5crypt'), password_hash: '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/' },
    { email: existing.email.toUpperCase(), password_hash: await bcrypt.hash('taking over', 4) },
    '{"email": "broken@example.com", ',
    { email: newEmail('typo'), password: 'plain text by mistake' },
    { email: twice },
    { email: twice.toUpperCase() },
    { email: good[1], name: 'No Password Yet' },
  ]);
  const result = await importThroughApi(t, content, 'application/x-ndjson');
  t.is(result.imported, 3, JSON.stringify(result));
  t.deepEqual(result.skipped, [
    { line: 2, email: 'not-an-email', reason: 'email: is not an email address' },
    {
      line: 4,
      email: (JSON.parse(content.split('\n')[3]!) as { email: string }).email,
      reason: 'password_hash: is not a supported password hash (argon2, bcrypt $2a$/$2b$/$2y$, or PBKDF2 with SHA-256 or SHA-512)',
    },
    { line: 5, email: existing.email.toUpperCase(), reason: 'a user with this email already exists' },
    { line: 6, email: null, reason: 'is not valid JSON' },
    { line: 7, email: (JSON.parse(content.split('\n')[6]!) as { email: string }).email, reason: 'password: is not a known field' },
    { line: 9, email: twice.toUpperCase(), reason: 'a user with this email already exists' },
  ]);
  t.deepEqual(await signIn(existing.email, existing.password), { sub: existing.id }, 'the existing password still works');
  t.deepEqual(await signIn(existing.email, 'taking over'), { error: 'The email or password is not correct.' });
  // Without a hash, the user exists but has no password until they reset it.
  t.like(await findUserByEmail(server.deps.db.knex, good[1]!), { name: 'No Password Yet', passwordHash: null, createdVia: 'import' });
});

test('each imported user gets one user.imported audit event naming who imported and the source', async (t) => {
  const email = newEmail('audited');
  await importThroughApi(t, jsonLines([{ email }]), 'application/x-ndjson');
  const user = await findUserByEmail(server.deps.db.knex, email);
  const events = await listAuditEvents(server.deps, { type: 'user.imported', subjectId: user!.id });
  t.is(events.items.length, 1);
  t.like(events.items[0], { actorType: 'client', actorId: adminClientId, subjectType: 'user', details: { source: 'jsonl' } });
});

test('the admin API refuses what is not a file of users, another content type, and a body over its limit', async (t) => {
  const garbage = await postImport('email,password\nsomeone@example.com,secret\n', 'application/x-ndjson');
  t.is(garbage.status, 400);
  t.like(garbage.body, { code: 'input.invalid', error_description: 'the file is neither a JSON array of users (Auth0 bulk import) nor JSON lines (one user object per line)' });
  const object = await postImport(JSON.stringify({ users: [] }), 'application/json');
  t.is(object.status, 400);
  t.like(object.body, { code: 'input.invalid', error_description: 'an Auth0 bulk-import file is a JSON array of users' });
  const broken = await postImport('[{"email": "a@example.com",]', 'application/json');
  t.is(broken.status, 400);
  t.regex(broken.body.error_description as string, /^the file is not a valid JSON array \(/);
  const text = await postImport(jsonLines([{ email: newEmail('text') }]), 'text/plain');
  t.is(text.status, 400);
  t.deepEqual(text.body.details, { 'content-type': 'must be application/json or application/x-ndjson' });
  const large = await postImport(`${JSON.stringify({ email: newEmail('large') })}\n${' '.repeat(5 * 1024 * 1024)}`, 'application/x-ndjson');
  t.is(large.status, 413);
  t.like(large.body, { code: 'input.too_large' });
  const anonymous = await fetch(`${server.issuer}/admin/api/v1/users/import`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{}' });
  t.is(anonymous.status, 401);
});

test('the OpenAPI document describes the import body in both media types', async (t) => {
  const document = (await (await fetch(`${server.issuer}/admin/api/v1/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { requestBody: { required: boolean; content: Record<string, { schema: { type: string } }> } }>>;
  };
  const body = document.paths['/users/import']!.post!.requestBody;
  t.true(body.required);
  t.is(body.content['application/json']!.schema.type, 'array');
  t.is(body.content['application/x-ndjson']!.schema.type, 'string');
});

test('latchkey users import prints a summary, or the result with --json, and names a file it cannot read', async (t) => {
  const email = newEmail('cli');
  const file = path.join(workDir, 'cli.jsonl');
  await fs.writeFile(file, jsonLines([{ email, name: 'From The CLI', password_hash: await bcrypt.hash('cli password 1', 4) }, { email: 'nope' }]));
  const human = await cli(['users', 'import', file]);
  t.is(human.code, 0, human.stderr);
  t.is(human.stdout, 'imported 1 user; skipped 1:\n  line 2 nope: email: is not an email address\n');
  t.deepEqual(await signIn(email, 'cli password 1'), { sub: (await findUserByEmail(server.deps.db.knex, email))!.id });
  const events = await listAuditEvents(server.deps, { type: 'user.imported', subjectId: (await findUserByEmail(server.deps.db.knex, email))!.id });
  t.is(events.items[0]!.actorType, 'cli');

  const again = json<ImportResult>(t, await cli(['users', 'import', file, '--json']));
  t.deepEqual(again, {
    source: 'jsonl',
    imported: 0,
    skipped: [
      { line: 1, email, reason: 'a user with this email already exists' },
      { line: 2, email: 'nope', reason: 'email: is not an email address' },
    ],
  });

  const auth0File = path.join(workDir, 'auth0.json');
  await fs.writeFile(auth0File, JSON.stringify([{ email: newEmail('cli-auth0') }, { email: 'bad' }]));
  t.is((await cli(['users', 'import', auth0File])).stdout, 'imported 1 user; skipped 1:\n  [1] bad: email: is not an email address\n');

  const missing = path.join(workDir, 'missing.jsonl');
  assertOneLineError(t, await cli(['users', 'import', missing]), `cannot read ${missing}: no such file`);
  const garbage = path.join(workDir, 'garbage.csv');
  await fs.writeFile(garbage, 'email,password\n');
  assertOneLineError(t, await cli(['users', 'import', garbage, '--json']), 'neither a JSON array');
});

test('a file too large for one request to a running server is imported whole by the CLI, with the right line numbers', async (t) => {
  const before = [newEmail('big-a'), newEmail('big-b')];
  const after = [newEmail('big-c'), newEmail('big-d')];
  const file = path.join(workDir, 'big.jsonl');
  await fs.writeFile(
    file,
    jsonLines([
      { email: before[0] },
      { email: before[1] },
      { email: newEmail('huge'), name: 'x'.repeat(700 * 1024) },
      'not json',
      { email: after[0] },
      { email: 'bad-after' },
      { email: after[1] },
    ]),
  );
  const result = json<ImportResult>(t, await cli(['users', 'import', file, '--json']));
  t.is(result.imported, 4);
  t.deepEqual(
    result.skipped.map(({ line, reason }) => ({ line, reason })),
    [
      { line: 3, reason: 'name: is too long' },
      { line: 4, reason: 'is not valid JSON' },
      { line: 6, reason: 'email: is not an email address' },
    ],
  );
  for (const email of [...before, ...after]) t.truthy(await findUserByEmail(server.deps.db.knex, email), email);
});

const jqProgram = fileURLToPath(new URL('../fixtures/keycloak-realm-to-jsonl.jq', import.meta.url));

/** A password credential as `kc.sh export` writes it: secretData and credentialData are JSON in strings. */
function keycloakCredential(secret: { value: Buffer; salt: Buffer }, data: { hashIterations: number; algorithm: string; additionalParameters?: Record<string, string[]> }) {
  return {
    id: randomBytes(8).toString('hex'),
    type: 'password',
    userLabel: 'My password',
    createdDate: 1_700_000_000_000,
    secretData: JSON.stringify({ value: secret.value.toString('base64'), salt: secret.salt.toString('base64'), additionalParameters: {} }),
    credentialData: JSON.stringify({ additionalParameters: {}, ...data }),
  };
}

test("the README's jq recipe turns a Keycloak realm export into JSON lines whose users sign in", async (t) => {
  const salt256 = randomBytes(16);
  const salt512 = randomBytes(16);
  const saltArgon = randomBytes(16);
  const users = {
    sha256: { email: newEmail('kc-sha256'), password: 'keycloak sha256 password' },
    sha512: { email: newEmail('kc-sha512'), password: 'keycloak sha512 password' },
    argon: { email: newEmail('kc-argon2'), password: 'keycloak argon2 password' },
  };
  const disabledEmail = newEmail('kc-disabled');
  const legacyEmail = newEmail('kc-legacy');
  const argonKey = await argon2.hash(users.argon.password, { type: argon2.argon2id, salt: saltArgon, memoryCost: 1024, timeCost: 3, parallelism: 1, hashLength: 32, raw: true });
  const realm = {
    id: 'R',
    realm: 'R',
    users: [
      {
        username: 'kc-sha256',
        email: users.sha256.email,
        emailVerified: true,
        firstName: 'Kay',
        lastName: 'Cloak',
        enabled: true,
        credentials: [
          keycloakCredential({ value: pbkdf2Sync(users.sha256.password, salt256, 27500, 32, 'sha256'), salt: salt256 }, { hashIterations: 27500, algorithm: 'pbkdf2-sha256' }),
        ],
      },
      {
        username: 'kc-sha512',
        email: users.sha512.email,
        emailVerified: false,
        enabled: true,
        credentials: [keycloakCredential({ value: pbkdf2Sync(users.sha512.password, salt512, 1000, 64, 'sha512'), salt: salt512 }, { hashIterations: 1000, algorithm: 'pbkdf2-sha512' })],
      },
      {
        username: 'kc-argon2',
        email: users.argon.email,
        enabled: true,
        credentials: [
          keycloakCredential(
            { value: argonKey, salt: saltArgon },
            { hashIterations: 3, algorithm: 'argon2', additionalParameters: { hashLength: ['32'], memory: ['1024'], type: ['id'], version: ['1.3'], parallelism: ['1'] } },
          ),
        ],
      },
      { username: 'kc-disabled', email: disabledEmail, enabled: false, credentials: [] },
      { username: 'service-account-backend', enabled: true, credentials: [] },
      {
        username: 'kc-legacy',
        email: legacyEmail,
        enabled: true,
        credentials: [keycloakCredential({ value: randomBytes(64), salt: randomBytes(16) }, { hashIterations: 20000, algorithm: 'pbkdf2' })],
      },
    ],
  };
  const realmFile = path.join(workDir, 'R-realm.json');
  await fs.writeFile(realmFile, JSON.stringify(realm, null, 2));
  const { stdout } = await promisify(execFile)('jq', ['-c', '-f', jqProgram, realmFile]).catch((error: NodeJS.ErrnoException) => {
    throw new Error(error.code === 'ENOENT' ? 'this test runs jq: install it (apt-get install -y jq)' : error.message);
  });
  const jsonl = path.join(workDir, 'keycloak.jsonl');
  await fs.writeFile(jsonl, stdout);

  const result = json<ImportResult>(t, await cli(['users', 'import', jsonl, '--json']));
  t.is(result.imported, 4, JSON.stringify(result));
  t.deepEqual(result.skipped, [
    // The service account has no email, so jq leaves it out and the legacy user is on line 5.
    { line: 5, email: legacyEmail, reason: 'password_hash: is not a supported password hash (argon2, bcrypt $2a$/$2b$/$2y$, or PBKDF2 with SHA-256 or SHA-512)' },
  ]);
  t.like(await findUserByEmail(server.deps.db.knex, users.sha256.email), { name: 'Kay Cloak', emailVerified: true });
  t.like(await findUserByEmail(server.deps.db.knex, disabledEmail), { disabled: true, passwordHash: null });
  for (const user of Object.values(users)) {
    const imported = (await storedHash(user.email))!;
    await assertSignsInAndUpgrades(t, user.email, user.password, imported);
  }
});
