import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { Provider, ResourceServer, TokenEndpointGrantContext } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { applyDpopBinding } from 'oidc-provider/lib/helpers/grant_common.js';
import { checkDpopRequired, validateDpop } from 'oidc-provider/lib/helpers/grants.js';
import type { Deps } from '../deps.js';
import type { KeyMaterial } from '../domain/keys.js';
import { splitScopes } from '../domain/scopes.js';
import { ACCESS_TOKEN_TYPE, exchangePolicyFor, TOKEN_EXCHANGE_GRANT } from '../domain/token-exchange.js';
import { findLatestGrantId } from '../store/oidc-payloads.js';
import { now } from '../util/clock.js';
import { accountFinder } from './find-account.js';
import { orUnavailable } from './unavailable.js';

/**
 * OAuth 2.0 Token Exchange (RFC 8693), for delegation: a confidential client (a service that got
 * a user's access token for its own API) exchanges it for an access token for another API, which
 * names the user as `sub` and the service as the actor (`act`). Only what an admin's policy
 * (domain/token-exchange.ts) allows for this client, subject API and target API is exchanged.
 *
 * What the request may carry (§2.1): subject_token and subject_token_type (an access token Latchkey
 * issued), audience or resource (the target API, once), scope (narrows what is issued), and
 * requested_token_type (only an access token). actor_token is refused: the actor is the
 * authenticated client itself.
 *
 * Scope: what is issued is what was asked for (everything when scope is absent) ∩ the policy's
 * scopes, less any scope the subject API also defines that the subject token did not carry. Scopes outside that are left out, and the
 * response's scope says what was issued (§2.2.1); when nothing is left the answer is invalid_scope.
 *
 * The issued token lives no longer than the subject token would have, and no longer than the
 * target API's access-token lifetime (or the client's own, if shorter). It is not tied to the
 * user's grant to the first client: revoking that grant ends the subject token, not tokens
 * already exchanged from it, which is why they live no longer than it would have. A JWT subject
 * token is not stored, so it is checked by signature, expiry, its client still existing and its
 * user still active; an opaque one as introspection checks it.
 *
 * Errors: a subject token that is not active (or is not a user's bearer access token) is
 * invalid_grant, as the refresh and code grants answer for a dead grant (RFC 8693 §2.2.2 would
 * also allow invalid_request); an exchange no policy allows is invalid_target.
 */

const PARAMETERS = ['audience', 'resource', 'scope', 'requested_token_type', 'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type'];
const DUPLICABLE = ['audience', 'resource'];

/** RFC 8693 §4.1: who acts, and (nested) who acted before them. */
export interface ActClaim {
  sub: string;
  act?: ActClaim;
}

/** What the exchange needs to know of a subject token, whatever its format. */
interface Subject {
  accountId: string;
  clientId: string;
  audiences: string[];
  scopes: string[];
  /** Epoch seconds. */
  expiresAt: number;
  act: ActClaim | undefined;
}

type ExchangeParams = {
  subject_token?: string | undefined;
  subject_token_type?: string | undefined;
  requested_token_type?: string | undefined;
  actor_token?: string | undefined;
  actor_token_type?: string | undefined;
  audience?: string | string[] | undefined;
  resource?: string | string[] | undefined;
  scope?: string | undefined;
};

const invalidRequest = (description: string) => new errors.InvalidRequest(description);
// InvalidGrant keeps a fixed description of its own; these say what was wrong with the subject token.
const invalidGrant = (description: string) => Object.assign(new errors.InvalidGrant(), { error_description: description });
const inactiveSubject = (description = 'subject_token is not active (unknown, expired or revoked)') => invalidGrant(description);

function isActClaim(value: unknown): value is ActClaim {
  if (typeof value !== 'object' || value === null) return false;
  const { sub, act } = value as { sub?: unknown; act?: unknown };
  return typeof sub === 'string' && (act === undefined || isActClaim(act));
}

function audiencesOf(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((entry): entry is string => typeof entry === 'string') : [];
}

/** The one API the new token is for: audience and resource may name it, once, and must agree. */
function targetOf(params: ExchangeParams): string {
  const named = [params.audience, params.resource].flatMap((value) => (value === undefined ? [] : Array.isArray(value) ? value : [value]));
  if (named.length === 0) throw invalidRequest('audience or resource is required: the API the new token is for');
  const targets = new Set(named);
  if (targets.size > 1) throw new errors.InvalidTarget('only one target API (audience or resource) may be asked for at a time');
  return named[0]!;
}

function checkParameters(params: ExchangeParams): { subjectToken: string } {
  if (!params.subject_token) throw invalidRequest('missing required parameter subject_token');
  if (!params.subject_token_type) throw invalidRequest('missing required parameter subject_token_type');
  if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
    throw invalidRequest(`unsupported subject_token_type: only ${ACCESS_TOKEN_TYPE} (an access token issued by this server) is accepted`);
  }
  if (params.requested_token_type !== undefined && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
    throw invalidRequest(`unsupported requested_token_type: only ${ACCESS_TOKEN_TYPE} is issued`);
  }
  if (params.actor_token !== undefined || params.actor_token_type !== undefined) {
    throw invalidRequest('actor_token is not supported: the authenticated client is the actor');
  }
  return { subjectToken: params.subject_token };
}

/** Latchkey's own public keys, as its JWKS publishes them, to verify JWT access tokens with. */
function publicKeySet(keys: KeyMaterial) {
  const publicKeys = keys.signingKeys.map((jwk) => {
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest } = jwk;
    return rest as JWK;
  });
  return createLocalJWKSet({ keys: publicKeys });
}

const looksLikeJwt = (value: string) => value.split('.').length === 3;

export interface TokenExchangeOptions {
  deps: Deps;
  keys: KeyMaterial;
}

/**
 * The provider's extraTokenClaims: an exchanged token's `act` claim. oidc-provider replaces a
 * token's `extra` with what this returns when it saves the token (and a JWT access token
 * carries `extra` as claims); other tokens have none.
 */
export function tokenExchangeClaims(_ctx: unknown, token: { gty?: unknown; extra?: Record<string, unknown> | undefined }): Record<string, unknown> | undefined {
  return token.gty === EXCHANGED && token.extra?.act ? { act: token.extra.act } : undefined;
}

/** The gty of tokens this grant issues. */
const EXCHANGED = 'token_exchange';

/** Registers the token exchange grant on a provider: discovery then lists it in grant_types_supported. */
export function registerTokenExchange(provider: Provider, { deps, keys }: TokenExchangeOptions): void {
  const jwks = publicKeySet(keys);
  const findAccount = accountFinder(deps);
  const issuer = deps.config.http.issuer;

  async function jwtSubject(value: string): Promise<Subject> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(value, jwks, { issuer, typ: 'at+jwt', algorithms: ['ES256', 'RS256'] }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw inactiveSubject('subject_token has expired');
      throw inactiveSubject('subject_token is not an access token issued by this server, or its signature does not verify');
    }
    const { sub, client_id: clientId, exp, scope, act } = payload as JWTPayload & { client_id?: unknown; scope?: unknown; act?: unknown };
    if ((payload as { cnf?: unknown }).cnf !== undefined) {
      throw inactiveSubject('subject_token is sender-constrained (DPoP or mTLS): only bearer access tokens can be exchanged');
    }
    if (typeof sub !== 'string' || typeof clientId !== 'string' || typeof exp !== 'number') throw inactiveSubject('subject_token is missing sub, client_id or exp');
    // A service's own token (client credentials) names the client as sub: no user to act for.
    if (sub === clientId) throw inactiveSubject("subject_token must be a user's access token, not a client's own");
    // The client it was issued to may have been deleted since, which ends its tokens.
    if (!(await orUnavailable(() => deps.catalog.client(clientId)))) throw inactiveSubject();
    // A JWT is not stored, so revoking it means revoking its grant: without a live grant of the
    // user to that client (consent withdrawn, reuse detected), it is not exchanged. An exchanged
    // token (act) was issued without a grant and lives only as long as the token it came from.
    if (act === undefined && !(await orUnavailable(() => findLatestGrantId(deps.db.knex, sub, clientId, now())))) {
      throw inactiveSubject('the grant behind subject_token was revoked');
    }
    return {
      accountId: sub,
      clientId,
      audiences: audiencesOf(payload.aud),
      scopes: typeof scope === 'string' ? splitScopes(scope) : [],
      expiresAt: exp,
      act: isActClaim(act) ? act : undefined,
    };
  }

  /** An opaque token, looked up as introspection does: live, and its grant still in place. */
  async function opaqueSubject(value: string): Promise<Subject> {
    const token = await provider.AccessToken.find(value);
    if (!token?.isValid) {
      if (await provider.ClientCredentials.find(value)) throw inactiveSubject("subject_token must be a user's access token, not a client's own");
      throw inactiveSubject();
    }
    if (token.grantId) {
      const grant = await provider.Grant.find(token.grantId, { ignoreExpiration: true });
      if (!grant || grant.isExpired || grant.clientId !== token.clientId || grant.accountId !== token.accountId) throw inactiveSubject();
    }
    if (token.isSenderConstrained()) {
      throw inactiveSubject('subject_token is sender-constrained (DPoP or mTLS): only bearer access tokens can be exchanged');
    }
    const act = token.extra?.act;
    return {
      accountId: token.accountId,
      clientId: token.clientId!,
      audiences: audiencesOf(token.aud),
      scopes: splitScopes(token.scope ?? ''),
      expiresAt: token.exp!,
      act: isActClaim(act) ? act : undefined,
    };
  }

  async function exchange(ctx: TokenEndpointGrantContext<ExchangeParams>): Promise<void> {
    const { client, params } = ctx.oidc;
    if (client.clientAuthMethod === 'none') {
      throw new errors.UnauthorizedClient('token exchange is for confidential clients: this client does not authenticate');
    }
    // A DPoP proof binds the new token to the client's key, as on every other grant; a client
    // registered with dpop_bound_access_tokens must send one.
    const dPoP = await validateDpop(provider, ctx);
    const { subjectToken } = checkParameters(params);
    const target = targetOf(params);

    const subject = looksLikeJwt(subjectToken) ? await jwtSubject(subjectToken) : await opaqueSubject(subjectToken);
    const secondsLeft = subject.expiresAt - Math.floor(Date.now() / 1000);
    if (secondsLeft <= 0) throw inactiveSubject('subject_token has expired');
    if (!(await findAccount(subject.accountId))) throw inactiveSubject('the user of subject_token is disabled or no longer exists');

    let policy;
    for (const audience of subject.audiences) {
      policy = await orUnavailable(() => exchangePolicyFor(deps, client.clientId, audience, target));
      if (policy) break;
    }
    if (!policy) {
      throw new errors.InvalidTarget(
        `no token exchange policy lets this client exchange tokens for ${subject.audiences.join(', ') || 'no audience'} for tokens for ${target}`,
      );
    }
    const resource = await orUnavailable(() => deps.catalog.resource(target));
    if (!resource) throw new errors.InvalidTarget(`${target} is not a registered API`);

    const requested = params.scope === undefined ? undefined : splitScopes(params.scope);
    // The policy is the limit across APIs (orders:read may become inventory:read). A scope the
    // user's own API also has must be one their token carries: no exchange widens what they granted.
    const subjectApi = await orUnavailable(() => deps.catalog.resource(policy.subjectAudience));
    const held = new Set(subject.scopes);
    const allowed = policy.scopes.filter((scope) => resource.scopes.includes(scope) && (!subjectApi?.scopes.includes(scope) || held.has(scope)));
    const scopes = requested === undefined ? allowed : allowed.filter((scope) => requested.includes(scope));
    if (scopes.length === 0) {
      throw new errors.InvalidScope(
        requested === undefined
          ? 'none of the scopes the token exchange policy allows can be issued for this subject token'
          : 'none of the requested scopes is allowed: a scope must be in the token exchange policy, and in the subject token when the subject API has it too',
        params.scope ?? '',
      );
    }

    // As for the client's other tokens: its own access_token_ttl can only shorten the API's.
    const clientTtl = (client.metadata() as Record<string, unknown>).access_token_ttl;
    const ttl = Math.min(resource.accessTokenTtl ?? deps.config.tokens.accessTtl, typeof clientTtl === 'number' ? clientTtl : Infinity, secondsLeft);
    const info: ResourceServer =
      resource.accessTokenFormat === 'jwt'
        ? { scope: scopes.join(' '), audience: target, accessTokenTTL: ttl, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }
        : { scope: scopes.join(' '), audience: target, accessTokenTTL: ttl, accessTokenFormat: 'opaque' };
    const act: ActClaim = subject.act ? { sub: client.clientId, act: subject.act } : { sub: client.clientId };

    const token = new provider.AccessToken({
      client,
      accountId: subject.accountId,
      // Not tied to the user's grant to the first client: that grant belongs to another client.
      grantId: undefined as unknown as string,
      gty: EXCHANGED,
      scope: scopes.join(' '),
      resourceServer: new provider.ResourceServer(target, info),
      expiresIn: ttl,
      extra: { act },
    });
    await applyDpopBinding(provider, ctx, dPoP, token);
    try {
      checkDpopRequired(provider, ctx, dPoP);
    } catch {
      throw invalidGrant('this client must send a DPoP proof (dpop_bound_access_tokens)');
    }
    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();
    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: token.tokenType,
      expires_in: token.expiration,
      scope: token.scope,
    };
  }

  provider.registerGrantType<ExchangeParams>(TOKEN_EXCHANGE_GRANT, exchange, PARAMETERS, DUPLICABLE);
}
