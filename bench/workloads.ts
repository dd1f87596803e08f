import { basic } from '../test/helpers/rp.js';
import type { RequestSpec } from './load.js';

/** The API the JWT access tokens are for (a resource with accessTokenFormat jwt, ES256). */
export const JWT_API = 'https://api.bench.example';
export const REDIRECT_URI = 'https://rp.bench.example/callback';

/**
 * Latchkey runs as in production: behind a TLS-terminating proxy, with an https issuer and
 * LATCHKEY_TRUST_PROXY, reached over plain HTTP on loopback. Every request carries the header
 * that proxy adds; the baseline is set up the same way.
 */
export const FORWARDED = { 'x-forwarded-proto': 'https' } as const;

/** fetch as if through that proxy: https URLs of the issuer go to its plain HTTP port. */
export const viaProxy: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : input);
  if (url.protocol === 'https:') url.protocol = 'http:';
  const headers = new Headers(init?.headers);
  headers.set('x-forwarded-proto', 'https');
  return fetch(url, { ...init, headers });
};

export interface Credentials {
  clientId: string;
  clientSecret: string;
}

export function formPost(path: string, client: Credentials, fields: Record<string, string>): RequestSpec {
  return {
    method: 'POST',
    path,
    headers: { ...FORWARDED, authorization: basic(client.clientId, client.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  };
}

export const clientCredentialsOpaque = (client: Credentials) => formPost('/token', client, { grant_type: 'client_credentials' });
export const clientCredentialsJwt = (client: Credentials) => formPost('/token', client, { grant_type: 'client_credentials', resource: JWT_API, scope: 'read' });
export const introspection = (client: Credentials, token: string) => formPost('/token/introspection', client, { token });
export const refresh = (client: Credentials, refreshToken: string) => formPost('/token', client, { grant_type: 'refresh_token', refresh_token: refreshToken });
export const jwks: RequestSpec = { method: 'GET', path: '/jwks', headers: FORWARDED };
export const discovery: RequestSpec = { method: 'GET', path: '/.well-known/openid-configuration', headers: FORWARDED };

/** Sends one request with fetch and returns the JSON it answered, failing on any other status. */
export async function send(origin: string, spec: RequestSpec, expectStatus = 200): Promise<Record<string, unknown>> {
  const response = await fetch(new URL(spec.path, origin), {
    method: spec.method,
    redirect: 'manual',
    ...(spec.headers ? { headers: spec.headers } : {}),
    ...(spec.body !== undefined ? { body: spec.body } : {}),
  });
  const text = await response.text();
  if (response.status !== expectStatus) throw new Error(`${spec.method} ${spec.path} answered ${response.status}: ${text.slice(0, 300)}`);
  return text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {};
}
