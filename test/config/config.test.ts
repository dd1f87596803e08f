import path from 'node:path';
import test from 'ava';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createPasswordHasher } from '../../src/domain/passwords.js';

test('with nothing set, Latchkey runs on port 3000 as http://localhost:3000 in development on ./data', (t) => {
  const config = loadConfig({});
  t.is(config.http.port, 3000);
  t.is(config.http.issuer, 'http://localhost:3000');
  t.is(config.http.trustProxy, false);
  t.is(config.env, 'development');
  t.is(config.db.url, undefined);
  t.is(config.db.dataDir, path.resolve('data'));
  t.is(config.log.level, 'info');
});

test('the issuer follows PORT when ISSUER is not set', (t) => {
  t.is(loadConfig({ PORT: '8080' }).http.issuer, 'http://localhost:8080');
});

test('with a DATABASE_URL and no LATCHKEY_ENV, Latchkey assumes production', (t) => {
  const config = loadConfig({ DATABASE_URL: 'postgres://db.internal/latchkey' });
  t.is(config.env, 'production');
  t.is(config.db.url, 'postgres://db.internal/latchkey');
  t.is(loadConfig({ DATABASE_URL: 'postgres://db.internal/latchkey', LATCHKEY_ENV: 'development' }).env, 'development');
});

test('token lifetimes default to one hour for access and ID tokens and 14 days for refresh tokens', (t) => {
  t.deepEqual(loadConfig({}).tokens, { accessTtl: 3600, idTtl: 3600, refreshTtl: 14 * 86400, refreshReuseGrace: 0 });
});

test('LATCHKEY_REFRESH_REUSE_GRACE is off by default and takes 0 up to five minutes', (t) => {
  t.is(loadConfig({}).tokens.refreshReuseGrace, 0);
  t.is(loadConfig({ LATCHKEY_REFRESH_REUSE_GRACE: '10s' }).tokens.refreshReuseGrace, 10);
  t.is(loadConfig({ LATCHKEY_REFRESH_REUSE_GRACE: '5m' }).tokens.refreshReuseGrace, 300);
  t.is(loadConfig({ LATCHKEY_REFRESH_REUSE_GRACE: '0' }).tokens.refreshReuseGrace, 0);
  for (const value of ['301', '6m', '1.5s', 'soon', '-1']) {
    const error = t.throws(() => loadConfig({ LATCHKEY_REFRESH_REUSE_GRACE: value }));
    t.true(error?.message.startsWith(`invalid LATCHKEY_REFRESH_REUSE_GRACE=${JSON.stringify(value)}: accepts`), error?.message);
  }
});

test('passwords are hashed with the strong argon2id defaults (19 MiB, t=2, p=1)', async (t) => {
  const config = loadConfig({});
  t.deepEqual(config.argon2, { memoryKib: 19456, time: 2, parallelism: 1 });
  const hash = await createPasswordHasher(config.argon2).hash('a password for the record');
  // PHC string: $argon2id$v=19$m=...,t=...,p=...$salt$hash (the library picks the parameter order).
  const [, algorithm, , parameters] = hash.split('$');
  t.is(algorithm, 'argon2id');
  t.deepEqual(Object.fromEntries(parameters!.split(',').map((pair) => pair.split('='))), { m: '19456', t: '2', p: '1' });
});

test('durations read as seconds, minutes, hours or days', (t) => {
  const config = loadConfig({
    LATCHKEY_ACCESS_TOKEN_TTL: '30s',
    LATCHKEY_ID_TOKEN_TTL: '15m',
    LATCHKEY_REFRESH_TOKEN_TTL: '14d',
    LATCHKEY_CACHE_POLL_INTERVAL: '250ms',
  });
  t.is(config.tokens.accessTtl, 30);
  t.is(config.tokens.idTtl, 15 * 60);
  t.is(config.tokens.refreshTtl, 14 * 86400);
  t.is(config.cache.pollIntervalMs, 250);
});

test('a trailing slash on ISSUER is dropped', (t) => {
  t.is(loadConfig({ ISSUER: 'https://id.example.com/' }).http.issuer, 'https://id.example.com');
  t.is(loadConfig({ ISSUER: 'https://id.example.com:8443' }).http.issuer, 'https://id.example.com:8443');
});

test('the configuration cannot be changed once loaded', (t) => {
  const config = loadConfig({});
  t.true(Object.isFrozen(config));
  t.true(Object.isFrozen(config.http));
  t.true(Object.isFrozen(config.tokens));
  t.true(Object.isFrozen(config.argon2));
  t.throws(() => {
    (config.http as { port: number }).port = 1;
  }, { instanceOf: TypeError });
});

test('loadConfig reads only the object it is given', (t) => {
  const before = process.env.PORT;
  process.env.PORT = '4999';
  try {
    t.is(loadConfig({}).http.port, 3000);
  } finally {
    if (before === undefined) delete process.env.PORT;
    else process.env.PORT = before;
  }
});

const badValues: Array<[string, string]> = [
  ['PORT', 'abc'],
  ['ISSUER', 'ftp://x'],
  ['DATABASE_URL', 'mysql://x'],
  ['LATCHKEY_LOG_LEVEL', 'loud'],
  ['LATCHKEY_TRUST_PROXY', 'maybe'],
  ['LATCHKEY_ACCESS_TOKEN_TTL', 'soon'],
  ['LATCHKEY_ACCESS_TOKEN_TTL', '1500ms'],
  ['LATCHKEY_ID_TOKEN_TTL', '1.5s'],
  ['LATCHKEY_CACHE_POLL_INTERVAL', 'often'],
  ['PORT', '0'],
  // The provider is served at the root of the origin; a path would advertise endpoints outside the issuer.
  ['ISSUER', 'https://id.example.com/tenant'],
  ['LATCHKEY_ARGON2_TIME', '0'],
  ['LATCHKEY_ENV', 'staging'],
  ['LATCHKEY_THEME_PRIMARY_COLOR', 'blue'],
  ['LATCHKEY_THEME_PRIMARY_COLOR', '#12345'],
  ['LATCHKEY_THEME_LOGO_URL', 'logo.png'],
  ['LATCHKEY_THEME_NAME', 'x'.repeat(61)],
  ['LATCHKEY_WEBHOOK_ALLOWED_NETWORKS', '10.0.0.0/33'],
  ['LATCHKEY_WEBHOOK_ALLOWED_NETWORKS', 'intranet'],
  ['LATCHKEY_WEBHOOK_TIMEOUT', 'forever'],
  ['LATCHKEY_WEBHOOK_RETENTION', 'always'],
];

test('webhooks may reach this machine in development, nothing private in production, and what LATCHKEY_WEBHOOK_ALLOWED_NETWORKS lists', (t) => {
  t.deepEqual(loadConfig({}).webhooks, { timeoutMs: 10_000, pollIntervalMs: 1000, allowedNetworks: ['127.0.0.0/8', '::1/128'] });
  t.deepEqual(loadConfig({ LATCHKEY_ENV: 'production' }).webhooks.allowedNetworks, []);
  t.deepEqual(loadConfig({ LATCHKEY_WEBHOOK_ALLOWED_NETWORKS: 'none' }).webhooks.allowedNetworks, []);
  t.deepEqual(loadConfig({ LATCHKEY_ENV: 'production', LATCHKEY_WEBHOOK_ALLOWED_NETWORKS: '10.1.0.0/16, 192.168.7.9,fd00::/8' }).webhooks.allowedNetworks, [
    '10.1.0.0/16',
    '192.168.7.9/32',
    'fd00::/8',
  ]);
  t.is(loadConfig({}).retention.webhookEvents, 30 * 86400);
});

test('the theme defaults to Latchkey in its own blue with no logo, and takes a product name, logo and color', (t) => {
  t.deepEqual(loadConfig({}).theme, { name: 'Latchkey', logoUrl: undefined, primaryColor: '#3b4fd8' });
  const themed = loadConfig({ LATCHKEY_THEME_NAME: ' Acme ID ', LATCHKEY_THEME_LOGO_URL: 'https://cdn.acme.example/logo.svg', LATCHKEY_THEME_PRIMARY_COLOR: '#0A7' });
  t.deepEqual(themed.theme, { name: 'Acme ID', logoUrl: 'https://cdn.acme.example/logo.svg', primaryColor: '#0a7' });
});

for (const [variable, value] of badValues) {
  test(`${variable}=${value} is refused with one line naming ${variable}`, (t) => {
    const error = t.throws(() => loadConfig({ [variable]: value }), { instanceOf: ConfigError });
    t.false(error.message.includes('\n'), error.message);
    t.true(error.message.includes(variable), error.message);
    t.true(error.message.includes(value), error.message);
  });
}
