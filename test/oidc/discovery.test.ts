import test from 'ava';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let metadata: Record<string, unknown>;

test.before(async () => {
  server = await startTestServer();
  const response = await fetch(`${server.issuer}/.well-known/openid-configuration`);
  if (response.status !== 200) throw new Error(`discovery answered ${response.status}`);
  metadata = (await response.json()) as Record<string, unknown>;
});

test.after.always(async () => {
  await server?.dispose();
});

// Pinned on purpose: an oidc-provider upgrade or a configuration change that alters what
// relying parties are told must show up here and be decided, not slip through.
test('discovery advertises exactly the protocol surface Latchkey supports', (t) => {
  t.is(metadata.issuer, server.issuer);
  t.deepEqual(metadata.grant_types_supported, [
    'authorization_code',
    'refresh_token',
    'client_credentials',
    'urn:ietf:params:oauth:grant-type:device_code',
    'urn:ietf:params:oauth:grant-type:token-exchange',
  ]);
  t.deepEqual(metadata.response_types_supported, ['code']);
  t.deepEqual(metadata.response_modes_supported, ['form_post', 'fragment', 'query']);
  t.deepEqual(metadata.scopes_supported, ['openid', 'profile', 'email', 'offline_access']);
  // Every ID token says how the user signed in: acr (the level) and amr (the methods).
  t.deepEqual(metadata.claims_supported, ['sub', 'acr', 'amr', 'name', 'updated_at', 'email', 'email_verified', 'sid', 'auth_time', 'iss']);
  // One factor, two factors, and OpenID PAPE's name for two, which clients written for other servers send.
  t.deepEqual(metadata.acr_values_supported, [
    'urn:latchkey:acr:single-factor',
    'urn:latchkey:acr:mfa',
    'http://schemas.openid.net/pape/policies/2007/06/multi-factor',
  ]);
  t.deepEqual(metadata.token_endpoint_auth_methods_supported, ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']);
  // Secrets are stored hashed, so nothing that needs the plaintext secret (client_secret_jwt, HS*) is offered.
  for (const key of Object.keys(metadata).filter((name) => name.endsWith('_alg_values_supported'))) {
    t.false((metadata[key] as string[]).some((alg) => alg.startsWith('HS')), `${key} offers an HMAC algorithm`);
  }
  t.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
  t.deepEqual(metadata.id_token_signing_alg_values_supported, ['ES256', 'RS256']);
  t.deepEqual(metadata.subject_types_supported, ['public']);
  t.deepEqual(metadata.claim_types_supported, ['normal']);
  t.deepEqual(metadata.ui_locales_supported, ['en', 'de']);
  t.deepEqual(metadata.claims_locales_supported, ['en']);
  t.is(metadata.claims_parameter_supported, true);
  t.is(metadata.authorization_response_iss_parameter_supported, true);
  // Request objects (JAR) by value or pushed (PAR); never fetched from a client's URL.
  t.is(metadata.request_parameter_supported, true);
  t.is(metadata.request_uri_parameter_supported, false);
  t.deepEqual(metadata.request_object_signing_alg_values_supported, ['ES256', 'RS256', 'PS256', 'Ed25519', 'EdDSA']);
  t.deepEqual(metadata.dpop_signing_alg_values_supported, ['ES256', 'Ed25519', 'EdDSA']);
  // PAR is there for every client; only clients registered with it must use it.
  t.false(metadata.require_pushed_authorization_requests === true);
});

test('discovery lists exactly the endpoints Latchkey serves, all under the issuer', (t) => {
  const endpoints = Object.fromEntries(Object.entries(metadata).filter(([key]) => key.endsWith('_endpoint') || key === 'jwks_uri'));
  t.deepEqual(endpoints, {
    authorization_endpoint: `${server.issuer}/auth`,
    device_authorization_endpoint: `${server.issuer}/device/auth`,
    end_session_endpoint: `${server.issuer}/session/end`,
    introspection_endpoint: `${server.issuer}/token/introspection`,
    jwks_uri: `${server.issuer}/jwks`,
    pushed_authorization_request_endpoint: `${server.issuer}/par`,
    registration_endpoint: `${server.issuer}/reg`,
    revocation_endpoint: `${server.issuer}/token/revocation`,
    token_endpoint: `${server.issuer}/token`,
    userinfo_endpoint: `${server.issuer}/me`,
  });
});

test('features Latchkey does not offer are not advertised', (t) => {
  for (const key of ['backchannel_authentication_endpoint', 'mtls_endpoint_aliases', 'tls_client_certificate_bound_access_tokens', 'authorization_encryption_alg_values_supported']) {
    t.false(key in metadata, `${key} is advertised`);
  }
});

test('the JWKS publishes one ES256 and one RS256 public key and nothing private', async (t) => {
  const response = await fetch(`${server.issuer}/jwks`);
  t.is(response.status, 200);
  const { keys } = (await response.json()) as { keys: Record<string, unknown>[] };
  t.deepEqual(keys.map((key) => [key.alg, key.kty, key.use]).sort(), [
    ['ES256', 'EC', 'sig'],
    ['RS256', 'RSA', 'sig'],
  ]);
  for (const key of keys) {
    t.is(typeof key.kid, 'string');
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']) t.false(member in key, `${String(key.alg)} key has "${member}"`);
  }
  t.is(new Set(keys.map((key) => key.kid)).size, keys.length);
  t.is(keys.find((key) => key.alg === 'ES256')?.crv, 'P-256');
});

test('discovery and the JWKS answer cross-origin requests from any origin', async (t) => {
  const origin = 'https://any-spa.example';
  for (const path of ['/.well-known/openid-configuration', '/jwks']) {
    const response = await fetch(`${server.issuer}${path}`, { headers: { origin } });
    t.is(response.status, 200, path);
    t.is(response.headers.get('access-control-allow-origin'), origin, path);
    await response.body?.cancel();
  }
});
