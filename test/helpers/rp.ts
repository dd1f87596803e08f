import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { createUser } from '../../src/domain/users.js';
import { createClient, type CreateClientInput } from '../../src/domain/clients.js';
import type { TestServer } from './server.js';
import { Browser, findForm } from './browser.js';
import { testActor } from './actor.js';

export const REDIRECT_URI = 'https://rp.example/callback';
export const POST_LOGOUT_URI = 'https://rp.example/signed-out';

export interface RelyingParty {
  config: oidc.Configuration;
  clientId: string;
  clientSecret: string | undefined;
  redirectUri: string;
}

/** Registers a client with the domain function and discovers the server as openid-client does. */
export async function registerRp(server: TestServer, input: Partial<CreateClientInput> = {}): Promise<RelyingParty> {
  const { client, clientSecret } = await createClient(server.deps, testActor, {
    name: 'Test RP',
    redirectUris: [REDIRECT_URI],
    postLogoutRedirectUris: [POST_LOGOUT_URI],
    ...input,
  });
  return {
    config: await discover(server, client.clientId, clientSecret, client.metadata.token_endpoint_auth_method),
    clientId: client.clientId,
    clientSecret,
    redirectUri: client.metadata.redirect_uris[0] ?? REDIRECT_URI,
  };
}

export async function discover(
  server: TestServer,
  clientId: string,
  clientSecret: string | undefined,
  authMethod: string = 'client_secret_basic',
): Promise<oidc.Configuration> {
  const authentication =
    authMethod === 'none' || !clientSecret
      ? oidc.None()
      : authMethod === 'client_secret_post'
        ? oidc.ClientSecretPost(clientSecret)
        : oidc.ClientSecretBasic(clientSecret);
  return oidc.discovery(new URL(server.issuer), clientId, undefined, authentication, {
    execute: [oidc.allowInsecureRequests],
  });
}

export interface TestUser {
  id: string;
  email: string;
  password: string;
  name: string;
}

export async function createTestUser(server: TestServer, overrides: Partial<Omit<TestUser, 'id'>> = {}): Promise<TestUser> {
  const email = overrides.email ?? `user-${randomBytes(5).toString('hex')}@example.com`;
  const password = overrides.password ?? `pw-${randomBytes(8).toString('hex')}`;
  const name = overrides.name ?? 'Test User';
  const user = await createUser(server.deps, testActor, { email, password, name, emailVerified: true });
  return { id: user.id, email, password, name };
}

export interface Authorization {
  codeVerifier: string;
  state: string;
  nonce: string;
  url: URL;
}

/** Builds an authorization request with PKCE, state and nonce. */
export async function authorizationRequest(rp: RelyingParty, params: Record<string, string> = {}): Promise<Authorization> {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { codeVerifier, state, nonce, url };
}

export interface Step {
  url: URL;
  response: Response;
  html: string;
}

/** Follows redirects from `url` until the RP's callback or a page that answers. */
export async function go(browser: Browser, rp: RelyingParty, url: string | URL): Promise<Step> {
  const { url: landed, response } = await browser.follow(url, (next) => next.href.startsWith(rp.redirectUri));
  return { url: landed, response, html: response.status === 204 ? '' : await response.text() };
}

export async function submitLogin(browser: Browser, rp: RelyingParty, page: Step, user: { email: string; password: string }): Promise<Step> {
  const form = findForm(page.html, '/login');
  const response = await browser.post(new URL(form.action, page.url), { ...form.fields, email: user.email, password: user.password });
  const location = response.headers.get('location');
  if (response.status === 303 && location) return go(browser, rp, new URL(location, page.url));
  return { url: page.url, response, html: await response.text() };
}

export async function submitConsent(browser: Browser, rp: RelyingParty, page: Step, decision: 'confirm' | 'abort' = 'confirm'): Promise<Step> {
  const form = findForm(page.html, `/${decision}`);
  const response = await browser.post(new URL(form.action, page.url), form.fields);
  const location = response.headers.get('location');
  if (response.status !== 303 || !location) throw new Error(`consent answered ${response.status}`);
  return go(browser, rp, new URL(location, page.url));
}

export function isLoginPage(step: Step): boolean {
  return step.html.includes('action="/interaction/') && step.html.includes('/login"');
}

export function isConsentPage(step: Step): boolean {
  return step.html.includes('/confirm"');
}

/**
 * The whole front channel: authorize, sign in if asked, consent if asked, and land on the
 * RP's callback. Returns the callback URL and the checks to redeem it with.
 */
export async function signIn(
  browser: Browser,
  rp: RelyingParty,
  user: { email: string; password: string },
  params: Record<string, string> = {},
): Promise<{ callback: URL; request: Authorization }> {
  const request = await authorizationRequest(rp, params);
  let step = await go(browser, rp, request.url);
  if (isLoginPage(step)) step = await submitLogin(browser, rp, step, user);
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  if (!step.url.href.startsWith(rp.redirectUri)) {
    throw new Error(`sign-in did not reach the callback; stopped at ${step.url.href} (${step.response.status}):\n${step.html}`);
  }
  return { callback: step.url, request };
}

export async function redeem(rp: RelyingParty, callback: URL, request: Authorization) {
  return oidc.authorizationCodeGrant(rp.config, callback, {
    pkceCodeVerifier: request.codeVerifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
    idTokenExpected: true,
  });
}

/** The Authorization header of HTTP Basic client authentication (RFC 6749 §2.3.1: each part form-encoded). */
export function basic(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
}

/** Posts form fields to a provider endpoint with HTTP Basic client authentication. */
export async function postWithBasic(url: string, rp: { clientId: string; clientSecret: string | undefined }, fields: Record<string, string>) {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: basic(rp.clientId, rp.clientSecret ?? ''), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}
