import * as oidc from 'openid-client';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { openClientSecret, upstreamRedirectUri } from '../domain/upstream-providers.js';
import { emailAddress } from '../domain/users.js';
import { displayName } from '../domain/validation.js';
import type { UpstreamAnswer } from '../interactions/sign-in-state.js';
import type { UpstreamProviderRow } from '../store/upstream-providers.js';

/** Why a trip upstream ended without a sign-in: audited as the reason, and chooses the page's words. */
export type UpstreamFailureReason =
  | 'state_invalid'
  | 'denied'
  | 'upstream_error'
  | 'provider_unavailable'
  | 'upstream_unreachable'
  | 'token_exchange_failed'
  | 'id_token_invalid'
  | 'response_invalid'
  | 'email_missing'
  | 'email_unverified'
  | 'signup_disabled'
  | 'account_disabled';

export class UpstreamFailure extends Error {
  override name = 'UpstreamFailure';
  constructor(
    readonly reason: UpstreamFailureReason,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** Seconds any one request to an upstream may take: a hung upstream must not hold the browser for long. */
const TIMEOUT_SECONDS = 10;
/** How long a node keeps an upstream's discovery document: it changes rarely, and a restart forgets it. */
const DISCOVERY_TTL_MS = 5 * 60 * 1000;

const discovered = new Map<string, { config: oidc.Configuration; until: number }>();

/** Plain http is for development and tests only; production speaks https (the domain refuses http there). */
function insecureAllowed(deps: Deps, url: string): boolean {
  return deps.config.env !== 'production' && url.startsWith('http:');
}

function clientAuth(deps: Deps, provider: UpstreamProviderRow): oidc.ClientAuth {
  const secret = openClientSecret(deps, provider);
  if (secret === undefined) return oidc.None();
  // GitHub reads the client's credentials from the form body only.
  return provider.kind === 'github' ? oidc.ClientSecretPost(secret) : oidc.ClientSecretBasic(secret);
}

/** The openid-client configuration of a provider: discovered (OpenID Connect) or GitHub's fixed endpoints. */
async function configurationOf(deps: Deps, provider: UpstreamProviderRow): Promise<oidc.Configuration> {
  // A changed provider (new secret, new issuer) has a new updated_at, so a new entry.
  const key = `${provider.id}@${provider.updatedAt.getTime()}`;
  const cached = discovered.get(key);
  if (cached && cached.until > Date.now()) return cached.config;
  let config: oidc.Configuration;
  if (provider.kind === 'github') {
    const web = provider.settings.webUrl!;
    config = new oidc.Configuration(
      { issuer: web, authorization_endpoint: `${web}/login/oauth/authorize`, token_endpoint: `${web}/login/oauth/access_token` },
      provider.clientId,
      undefined,
      clientAuth(deps, provider),
    );
    if (insecureAllowed(deps, web)) oidc.allowInsecureRequests(config);
  } else {
    const issuer = provider.issuer!;
    config = await oidc.discovery(new URL(issuer), provider.clientId, undefined, clientAuth(deps, provider), {
      timeout: TIMEOUT_SECONDS,
      execute: insecureAllowed(deps, issuer) ? [oidc.allowInsecureRequests] : [],
    });
    // The ID token's signature is checked against the upstream's published keys, not taken on
    // the word of the TLS connection alone.
    oidc.enableNonRepudiationChecks(config);
  }
  config.timeout = TIMEOUT_SECONDS;
  for (const [stale, entry] of discovered) if (stale.startsWith(`${provider.id}@`) || entry.until <= Date.now()) discovered.delete(stale);
  discovered.set(key, { config, until: Date.now() + DISCOVERY_TTL_MS });
  return config;
}

/** The error and what caused it, outermost first (a few levels: enough for openid-client's wrapping). */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current !== undefined && chain.length < 5; current = current instanceof Error ? current.cause : undefined) chain.push(current);
  return chain;
}

/** Sorts an error from talking to an upstream into a reason, without losing the original. */
function classify(error: unknown, stage: 'discovery' | 'exchange' | 'user'): UpstreamFailure {
  if (error instanceof UpstreamFailure) return error;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const network =
    (error instanceof TypeError && message === 'fetch failed') ||
    (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) ||
    (error instanceof Error && error.cause instanceof Error && ['AbortError', 'TimeoutError'].includes(error.cause.name));
  if (network || stage === 'discovery') return new UpstreamFailure('upstream_unreachable', `the upstream could not be reached: ${message}`, { cause: error });
  if (error instanceof oidc.ResponseBodyError) return new UpstreamFailure('token_exchange_failed', `the upstream refused the code: ${error.error}`, { cause: error });
  if (error instanceof oidc.AuthorizationResponseError) return new UpstreamFailure('upstream_error', `the upstream answered ${error.error}`, { cause: error });
  // openid-client says "invalid response encountered" and keeps what failed in the causes.
  const reasons = causes(error).map((cause) => (cause instanceof Error ? cause.message : String(cause)));
  const why = reasons.at(-1) ?? message;
  if (stage === 'exchange' && (reasons.some((text) => /JWT|ID Token|signature|claim|nonce|"iss"|"aud"/i.test(text)) || code === 'OAUTH_KEY_SELECTION_FAILED')) {
    return new UpstreamFailure('id_token_invalid', `the upstream's ID token did not pass the checks: ${why}`, { cause: error });
  }
  return new UpstreamFailure('response_invalid', `the upstream's answer is not valid: ${why}`, { cause: error });
}

export interface Trip {
  state: string;
  codeVerifier: string;
  nonce: string;
}

/** Where to send the browser to sign in upstream. */
export async function authorizationUrl(deps: Deps, provider: UpstreamProviderRow, trip: Trip, loginHint: string | undefined): Promise<URL> {
  let config: oidc.Configuration;
  try {
    config = await configurationOf(deps, provider);
  } catch (error) {
    throw classify(error, 'discovery');
  }
  const params: Record<string, string> = {
    redirect_uri: upstreamRedirectUri(deps, provider.id),
    scope: provider.scopes.join(' '),
    state: trip.state,
    code_challenge: await oidc.calculatePKCECodeChallenge(trip.codeVerifier),
    code_challenge_method: 'S256',
  };
  if (provider.kind !== 'github') params.nonce = trip.nonce;
  // GitHub's hint is a user name, not an address.
  if (loginHint && provider.kind !== 'github') params.login_hint = loginHint;
  return oidc.buildAuthorizationUrl(config, params);
}

const githubUser = z.object({ id: z.union([z.number(), z.string()]), login: z.string().optional(), name: z.string().nullable().optional() });
const githubEmails = z.array(z.object({ email: z.string(), verified: z.boolean(), primary: z.boolean().optional() }));

async function githubGet(provider: UpstreamProviderRow, accessToken: string, path: string): Promise<unknown> {
  const response = await fetch(`${provider.settings.apiUrl!}${path}`, {
    headers: { authorization: `Bearer ${accessToken}`, accept: 'application/vnd.github+json', 'user-agent': 'Latchkey', 'x-github-api-version': '2022-11-28' },
    signal: AbortSignal.timeout(TIMEOUT_SECONDS * 1000),
  });
  if (!response.ok) throw new UpstreamFailure('response_invalid', `GitHub's ${path} answered ${response.status}`);
  return response.json();
}

/** Only an address GitHub has verified, the primary one first: an unverified one could be anyone's. */
async function githubAnswer(provider: UpstreamProviderRow, accessToken: string): Promise<Omit<UpstreamAnswer, 'providerId'>> {
  const user = githubUser.safeParse(await githubGet(provider, accessToken, '/user'));
  const emails = githubEmails.safeParse(await githubGet(provider, accessToken, '/user/emails'));
  if (!user.success || !emails.success) throw new UpstreamFailure('response_invalid', "GitHub's user API answered in an unexpected shape");
  const verified = emails.data.filter((entry) => entry.verified);
  const chosen = verified.find((entry) => entry.primary) ?? verified[0] ?? emails.data.find((entry) => entry.primary) ?? emails.data[0];
  return { subject: String(user.data.id), email: chosen?.email ?? null, emailVerified: chosen?.verified ?? false, name: user.data.name ?? user.data.login ?? null };
}

/** An address and a name as Latchkey stores them, or nothing when what came is not one. */
function cleaned(answer: Omit<UpstreamAnswer, 'providerId'>): Omit<UpstreamAnswer, 'providerId'> {
  const email = answer.email === null ? null : emailAddress.safeParse(answer.email);
  const name = answer.name === null ? null : displayName(200).safeParse(answer.name);
  return {
    subject: answer.subject,
    email: email?.success ? email.data.toLowerCase() : null,
    emailVerified: email?.success ? answer.emailVerified : false,
    name: name?.success ? name.data : null,
  };
}

/**
 * Redeems the code the browser brought back: openid-client checks the state, the issuer of the
 * response and, for OpenID Connect, the ID token (signature, iss, aud, exp, nonce).
 */
export async function redeemCallback(deps: Deps, provider: UpstreamProviderRow, callback: URL, trip: Trip): Promise<UpstreamAnswer> {
  let config: oidc.Configuration;
  try {
    config = await configurationOf(deps, provider);
  } catch (error) {
    throw classify(error, 'discovery');
  }
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  try {
    tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: trip.codeVerifier,
      expectedState: trip.state,
      ...(provider.kind === 'github' ? {} : { expectedNonce: trip.nonce, idTokenExpected: true }),
    });
  } catch (error) {
    throw classify(error, 'exchange');
  }
  try {
    if (provider.kind === 'github') return { providerId: provider.id, ...cleaned(await githubAnswer(provider, tokens.access_token)) };
    const claims = tokens.claims()!;
    let email = typeof claims.email === 'string' ? claims.email : null;
    let verified = claims.email_verified === true;
    let name = typeof claims.name === 'string' ? claims.name : null;
    // Providers that keep the ID token small (oidc-provider among them) give the address at userinfo.
    if (email === null) {
      const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      email = typeof info.email === 'string' ? info.email : null;
      verified = info.email_verified === true;
      name ??= typeof info.name === 'string' ? info.name : null;
    }
    // Microsoft marks an address its domain owner verified with xms_edov; its email claim alone is unverified.
    if (provider.kind === 'microsoft') verified = claims.xms_edov === true;
    return { providerId: provider.id, ...cleaned({ subject: claims.sub, email, emailVerified: verified, name }) };
  } catch (error) {
    throw classify(error, 'user');
  }
}
