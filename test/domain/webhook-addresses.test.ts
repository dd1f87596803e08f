import test from 'ava';
import { assertPublicUrl, isAllowedAddress } from '../../src/domain/webhook-addresses.js';
import { LatchkeyError } from '../../src/errors.js';

const production = { allowedNetworks: [] };

const refused = [
  '127.0.0.1',
  '127.8.9.10',
  '10.0.0.5',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.1.1',
  '169.254.169.254', // cloud metadata
  '100.64.0.1',
  '0.0.0.0',
  '224.0.0.1',
  '255.255.255.255',
  '::1',
  '::',
  'fe80::1',
  'fc00::1',
  'fd00:ec2::254', // AWS metadata over IPv6
  '::ffff:127.0.0.1',
  '::ffff:169.254.169.254',
  '64:ff9b::a9fe:a9fe',
  '::7f00:1', // IPv4-compatible 127.0.0.1
  '::ffff:0:7f00:1', // IPv4-translated
  '64:ff9b:1::7f00:1',
  '2002:7f00:1::', // 6to4 of 127.0.0.1
  '2001:0:4136:e378:8000:63bf:3fff:fdd2', // Teredo
];

const allowed = ['93.184.215.14', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '1.1.1.1'];

for (const address of refused) {
  test(`${address} is refused in production`, (t) => {
    t.false(isAllowedAddress(address, production));
  });
}

for (const address of allowed) {
  test(`${address} is a public address`, (t) => {
    t.true(isAllowedAddress(address, production));
  });
}

test('an allowed network opens exactly that network', (t) => {
  const policy = { allowedNetworks: ['10.1.0.0/16', '::1/128'] };
  t.true(isAllowedAddress('10.1.200.3', policy));
  t.false(isAllowedAddress('10.2.0.1', policy));
  t.true(isAllowedAddress('::1', policy));
  t.false(isAllowedAddress('127.0.0.1', policy));
});

test('a URL is checked on every address its host resolves to, and on an address written in it', async (t) => {
  // Decimal, hex, octal and short forms are written as dotted addresses by the URL parser.
  for (const url of ['http://localhost:8080/hook', 'http://127.0.0.1/', 'http://[::1]:9000/', 'https://169.254.169.254/latest/meta-data/', 'http://[::ffff:7f00:1]/', 'http://2130706433/', 'http://0x7f.1/', 'http://0177.0.0.1/', 'http://127.1/']) {
    const error = await t.throwsAsync(assertPublicUrl(new URL(url), production), { instanceOf: LatchkeyError }, url);
    t.is(error?.code, 'webhook.address_refused', url);
  }
  await t.notThrowsAsync(assertPublicUrl(new URL('http://localhost:8080/hook'), { allowedNetworks: ['127.0.0.0/8', '::1/128'] }));
  const unresolvable = await t.throwsAsync(assertPublicUrl(new URL('https://no-such-host.invalid/'), production), { instanceOf: LatchkeyError });
  t.is(unresolvable?.code, 'webhook.unresolvable');
});
