import test from 'ava';
import { createSealer, SealError } from '../../src/secrets/sealer.js';

const masterKey = 'sealer-test-master-key-0123456789abcdefghijklmnop';
const sealer = createSealer(masterKey);

test('a sealed value opens to what was sealed, and does not show it', (t) => {
  const secret = '{"kty":"EC","d":"private-part"}';
  const sealed = sealer.seal(secret, 'signing_key:abc');
  t.false(sealed.includes('private-part'));
  t.is(sealer.open(sealed, 'signing_key:abc'), secret);
  t.not(sealer.seal(secret, 'signing_key:abc'), sealed, 'each seal has its own IV');
});

test('a value sealed for one context does not open in another', (t) => {
  const sealed = sealer.seal('cookie secret', 'signing_key:one');
  const error = t.throws(() => sealer.open(sealed, 'signing_key:two'), { instanceOf: SealError });
  t.regex(error!.message, /signing_key:two could not be decrypted/);
});

test('a value sealed under another master key gives the "different master key" error', (t) => {
  const sealed = createSealer('another-master-key-0123456789abcdefghijklmnopq').seal('cookie secret', 'cookie_secret');
  const error = t.throws(() => sealer.open(sealed, 'cookie_secret'), { instanceOf: SealError });
  t.regex(error!.message, /different master key/);
  t.regex(error!.message, /LATCHKEY_SECRET/);
});

test('a tampered or malformed value does not open', (t) => {
  const sealed = sealer.seal('cookie secret', 'cookie_secret');
  const parts = sealed.split('.');
  const flip = (text: string) => {
    const bytes = Buffer.from(text, 'base64url');
    bytes[0]! ^= 1;
    return bytes.toString('base64url');
  };
  for (const index of [2, 3, 4]) {
    const tampered = parts.map((part, at) => (at === index ? flip(part) : part)).join('.');
    t.throws(() => sealer.open(tampered, 'cookie_secret'), { instanceOf: SealError, message: /could not be decrypted/ }, `part ${index}`);
  }
  t.throws(() => sealer.open('plaintext-secret', 'cookie_secret'), { instanceOf: SealError, message: /not a sealed value/ });
});
