import test from 'ava';
import { relyingPartyOptionsFromEnv } from '../../examples/relying-party/env.js';
import { resourceServerOptionsFromEnv } from '../../examples/resource-server/env.js';

test('the example app names every missing setting at once', (t) => {
  const error = t.throws(() => relyingPartyOptionsFromEnv({}));
  for (const name of ['ISSUER', 'CLIENT_ID', 'CLIENT_SECRET', 'API_URL']) t.regex(error.message, new RegExp(`^  ${name} is not set: `, 'm'));
  t.notRegex(error.message, /PORT|API_RESOURCE/);
});

test('the example app refuses a URL that is not one and a port out of range', (t) => {
  const error = t.throws(() =>
    relyingPartyOptionsFromEnv({ ISSUER: 'localhost:3000', CLIENT_ID: 'a', CLIENT_SECRET: 'b', API_URL: 'http://localhost:4000/api/hello', PORT: '70000' }),
  );
  t.regex(error.message, /^  ISSUER is not an http\(s\) URL: /m);
  t.regex(error.message, /^  PORT is not a port number \(0-65535\): 70000$/m);
});

test('the example app reads its settings, with a default port and the API resource from the API URL', (t) => {
  const env = { ISSUER: 'http://localhost:3000', CLIENT_ID: 'app', CLIENT_SECRET: 'secret', API_URL: 'http://localhost:4000/api/hello' };
  t.deepEqual(relyingPartyOptionsFromEnv(env), { issuer: 'http://localhost:3000', clientId: 'app', clientSecret: 'secret', apiUrl: 'http://localhost:4000/api/hello', port: 8080 });
  t.like(relyingPartyOptionsFromEnv({ ...env, PORT: '9000', API_RESOURCE: 'https://api.example' }), { port: 9000, apiResource: 'https://api.example' });
});

test('the example API names every missing setting at once', (t) => {
  const error = t.throws(() => resourceServerOptionsFromEnv({}));
  for (const name of ['ISSUER', 'INTROSPECTION_CLIENT_ID', 'INTROSPECTION_CLIENT_SECRET']) t.regex(error.message, new RegExp(`^  ${name} is not set: `, 'm'));
  t.notRegex(error.message, /API_RESOURCE|PORT/);
});

test('the example API is its own resource on localhost unless told otherwise', (t) => {
  const env = { ISSUER: 'http://localhost:3000', INTROSPECTION_CLIENT_ID: 'api', INTROSPECTION_CLIENT_SECRET: 'secret' };
  t.deepEqual(resourceServerOptionsFromEnv(env), {
    issuer: 'http://localhost:3000',
    resource: 'http://localhost:4000',
    introspectionClientId: 'api',
    introspectionClientSecret: 'secret',
    port: 4000,
  });
  t.like(resourceServerOptionsFromEnv({ ...env, PORT: '4100', API_RESOURCE: 'https://api.example' }), { port: 4100, resource: 'https://api.example' });
  t.like(resourceServerOptionsFromEnv({ ...env, PORT: '4100' }), { resource: 'http://localhost:4100' });
});
