import { pbkdf2Sync, randomBytes } from 'node:crypto';
import test from 'ava';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { createPasswordHasher, isSupportedHash } from '../../src/domain/passwords.js';

const settings = { memoryKib: 1024, time: 1, parallelism: 1 };
const hasher = createPasswordHasher(settings);
const password = 'correct horse battery staple';

/** PHC "B64": standard base64 without padding. */
const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');
/** passlib's "ab64": '.' for '+', no padding. */
const ab64 = (bytes: Buffer) => b64(bytes).replaceAll('+', '.');

function pbkdf2Phc(digest: 'sha256' | 'sha512', secret: string, iterations = 1000, keyBytes = digest === 'sha256' ? 32 : 64): string {
  const salt = randomBytes(16);
  return `$pbkdf2-${digest}$i=${iterations},l=${keyBytes}$${b64(salt)}$${b64(pbkdf2Sync(secret, salt, iterations, keyBytes, digest))}`;
}

function pbkdf2Passlib(digest: 'sha256' | 'sha512', secret: string, iterations = 1000): string {
  const salt = randomBytes(16);
  return `$pbkdf2-${digest}$${iterations}$${ab64(salt)}$${ab64(pbkdf2Sync(secret, salt, iterations, digest === 'sha256' ? 32 : 64, digest))}`;
}

async function assertVerifies(t: import('ava').ExecutionContext, hash: string, secret = password) {
  t.true(isSupportedHash(hash), hash);
  t.true(await hasher.verify(hash, secret), `${hash} should verify its password`);
  t.false(await hasher.verify(hash, `${secret}!`), `${hash} should refuse another password`);
}

test('our own argon2id hash verifies and needs no re-hash while the settings stay', async (t) => {
  const hash = await hasher.hash(password);
  await assertVerifies(t, hash);
  t.false(hasher.needsRehash(hash));
});

test('an argon2id hash with other memory, time or parallelism needs a re-hash; other argon2 types verify and need one too', async (t) => {
  const base = { type: argon2.argon2id, memoryCost: settings.memoryKib, timeCost: settings.time, parallelism: settings.parallelism } as const;
  for (const changed of [{ memoryCost: 2048 }, { timeCost: 2 }, { parallelism: 2 }]) {
    const hash = await argon2.hash(password, { ...base, ...changed });
    await assertVerifies(t, hash);
    t.true(hasher.needsRehash(hash), JSON.stringify(changed));
  }
  for (const type of [argon2.argon2i, argon2.argon2d] as const) {
    const hash = await argon2.hash(password, { ...base, type });
    await assertVerifies(t, hash);
    t.true(hasher.needsRehash(hash));
  }
});

test('bcrypt $2a$, $2b$ and $2y$ hashes verify and need a re-hash', async (t) => {
  const hash = await bcrypt.hash(password, 4);
  for (const prefix of ['$2a$', '$2b$', '$2y$']) {
    const variant = prefix + hash.slice(4);
    await assertVerifies(t, variant);
    t.true(hasher.needsRehash(variant));
  }
});

test('PBKDF2 with SHA-256 and SHA-512, in PHC and in passlib form, verifies and needs a re-hash', async (t) => {
  for (const hash of [pbkdf2Phc('sha256', password), pbkdf2Phc('sha512', password), pbkdf2Passlib('sha256', password), pbkdf2Passlib('sha512', password)]) {
    await assertVerifies(t, hash);
    t.true(hasher.needsRehash(hash));
  }
  // A key length other than the digest's is fine as long as `l` says it.
  await assertVerifies(t, pbkdf2Phc('sha512', password, 1000, 20));
});

test("passlib's own test vectors verify, so its hashes import as they are", async (t) => {
  // From passlib's test_handlers_pbkdf2.py.
  await assertVerifies(t, '$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ', 'password');
  await assertVerifies(
    t,
    '$pbkdf2-sha512$1212$RHY0Fr3IDMSVO/RSZyb5ow$eNLfBK.eVozomMr.1gYa17k9B7KIK25NOEshvhrSX.esqY3s.FvWZViXz4KoLlQI.BzY/YTNJOiKc5gBYFYGww',
    'password',
  );
  await assertVerifies(t, '$pbkdf2-sha256$1212$3SABFJGDtyhrQMVt1uABPw$WyaUoqCLgvz97s523nF4iuOqZNbp5Nt8do/cuaa7AiI', '\u0399\u03c9\u03b1\u03bd\u03bd\u03b7\u03c2');
});

test('unknown formats are not supported and verify nothing', async (t) => {
  const unknown = [
    '',
    'plaintext',
    '5f4dcc3b5aa765d61d8327deb882cf99',
    '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/',
    '$5$rounds=5000$saltsalt$Gbm7X7ZEWEeP3lH3ShXHeJHc5u.sM1NgRhQ9L6BVTD6',
    pbkdf2Phc('sha256', password).replace('pbkdf2-sha256', 'pbkdf2-sha1'),
    '$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E',
  ];
  for (const hash of unknown) {
    t.false(isSupportedHash(hash), hash);
    t.false(await hasher.verify(hash, password), hash);
  }
});

test('a recognisable but malformed hash, or one with absurd parameters, is refused without throwing', async (t) => {
  const good = pbkdf2Phc('sha256', password);
  const [, , , salt, key] = good.split('$');
  const bcryptHash = await bcrypt.hash(password, 4);
  const argonHash = await hasher.hash(password);
  const malformed = [
    good.slice(0, -5),
    `${good}$`,
    `$pbkdf2-sha256$i=1000,l=31$${salt}$${key}`, // l disagrees with the key
    `$pbkdf2-sha256$i=1000,l=32,i=5$${salt}$${key}`,
    `$pbkdf2-sha256$i=1000,x=1$${salt}$${key}`,
    `$pbkdf2-sha256$i=1000,l=32$${salt}==$${key}`, // padding is not PHC B64
    `$pbkdf2-sha256$i=1000,l=32$${salt}$${key}!`,
    `$pbkdf2-sha256$i=0,l=32$${salt}$${key}`,
    `$pbkdf2-sha256$i=10000001,l=32$${salt}$${key}`,
    `$pbkdf2-sha512$i=1000,l=257$${salt}$${b64(randomBytes(257))}`,
    `$pbkdf2-sha256$99999999999$${salt}$${key}`,
    bcryptHash.replace('$04$', '$31$'),
    bcryptHash.slice(0, -1),
    bcryptHash.replace('$2b$', '$2x$'),
    argonHash.replace(/m=\d+/, 'm=99999999'),
    argonHash.replace(/t=\d+/, 't=0'),
    argonHash.replace(/\$[^$]+$/, '$'),
    argonHash.replace('$v=19$', '$v=42$'),
  ];
  for (const hash of malformed) {
    t.false(isSupportedHash(hash), hash);
    t.false(await hasher.verify(hash, password), hash);
    t.true(hasher.needsRehash(hash), hash);
  }
});
