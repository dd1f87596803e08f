import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Router } from '@koa/router';
import { createRemoteJWKSet, errors as jose, jwtVerify } from 'jose';
import Koa, { type Context, type Next } from 'koa';
import * as oidc from 'openid-client';
import { DPOP_ALGORITHMS, dpopProofVerifier, InvalidDPoPProof } from './dpop.js';

/** The scope a caller needs for GET /api/hello. */
const HELLO_SCOPE = 'hello:read';

export interface ResourceServerOptions {
  /** Latchkey's issuer URL, e.g. http://localhost:3000. */
  issuer: string;
  /** This API's resource identifier as registered in Latchkey: the audience of its tokens. */
  resource: string;
  /** The client registered as this API's introspection client (`--introspection-client`). */
  introspectionClientId: string;
  introspectionClientSecret: string;
  /** 0 picks a free port. */
  port: number;
}

export interface RunningResourceServer {
  /** Where the API answers, e.g. http://localhost:4000 (GET /api/hello). */
  url: string;
  close(): Promise<void>;
}

/** Who called, as the access token says. */
interface Caller {
  sub: string;
  clientId: string;
  scopes: string[];
  format: 'jwt' | 'opaque';
  /** For a DPoP-bound token (RFC 9449 §6): the SHA-256 thumbprint of the key it is bound to (`cnf.jkt`). */
  jkt?: string;
}

/**
 * A token this API refuses; the message goes back in error_description, in a challenge of the
 * scheme the caller used, or of `scheme` when the token needs another one.
 */
class InvalidToken extends Error {
  constructor(
    message: string,
    readonly scheme?: 'DPoP',
  ) {
    super(message);
  }
}

const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/** `Authorization: Bearer <token>` (RFC 6750) or `Authorization: DPoP <token>` (RFC 9449 §7.1). */
const AUTHORIZATION = /^(Bearer|DPoP) ([\w\-.~+/]+=*)$/i;

/** The challenges, one per scheme the API takes; both go out when the caller sent no token. */
const BEARER_CHALLENGE = 'Bearer realm="example-api"';
const DPOP_CHALLENGE = `DPoP realm="example-api", algs="${DPOP_ALGORITHMS.join(' ')}"`;

/**
 * The example API. Latchkey issues JWT access tokens for an API registered with `--format jwt`
 * (checked here against its JWKS, no call to Latchkey per request) and opaque ones with
 * `--format opaque` (checked by introspection); switching the format needs no change here.
 */
export async function startResourceServer(options: ResourceServerOptions): Promise<RunningResourceServer> {
  const issuer = new URL(options.issuer);
  const introspection = await oidc
    .discovery(
      issuer,
      options.introspectionClientId,
      undefined,
      oidc.ClientSecretBasic(options.introspectionClientSecret),
      // openid-client refuses plain http unless told: an http ISSUER is for local development.
      issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined,
    )
    .catch((error: unknown) => {
      throw new Error(`could not read Latchkey's discovery document at ${issuer.href}: ${(error as Error).message}`, { cause: error });
    });
  const metadata = introspection.serverMetadata();
  if (!metadata.jwks_uri || !metadata.introspection_endpoint) {
    throw new Error(`${options.issuer} publishes no jwks_uri or introspection_endpoint; is it Latchkey?`);
  }
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));

  async function verifyJwt(token: string): Promise<Caller> {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: metadata.issuer,
        audience: options.resource,
        // RFC 9068: an ID token or any other JWT Latchkey signs is not an access token.
        typ: 'at+jwt',
        algorithms: ['ES256'],
        requiredClaims: ['exp', 'sub', 'client_id'],
      });
      return { sub: payload.sub!, clientId: String(payload.client_id), scopes: scopesOf(payload.scope), format: 'jwt', ...boundTo(payload.cnf) };
    } catch (error) {
      // A JWKS that cannot be fetched says nothing about the token: let it fail as an outage.
      if (error instanceof jose.JOSEError && !(error instanceof jose.JWKSTimeout)) throw new InvalidToken(jwtProblem(error));
      throw error;
    }
  }

  async function introspect(token: string): Promise<Caller> {
    const details = await oidc.tokenIntrospection(introspection, token);
    // Latchkey answers this client only about tokens meant for its API (or issued to it), but a
    // token issued to it for something else would be active too: the audience decides.
    // token_type is DPoP for a DPoP-bound access token, Bearer for another; a refresh token has none.
    const accessToken = details.token_type === 'Bearer' || details.token_type === 'DPoP';
    if (!details.active || !accessToken || !audiencesOf(details.aud).includes(options.resource) || !details.client_id) {
      throw new InvalidToken('the access token is not active for this API');
    }
    return { sub: details.sub ?? details.client_id, clientId: details.client_id, scopes: scopesOf(details.scope), format: 'opaque', ...boundTo(details.cnf) };
  }

  const verifyProof = dpopProofVerifier();

  /**
   * RFC 9449 §7: a DPoP-bound token is good only with `Authorization: DPoP` and a proof signed by
   * the key it is bound to; a token that is not bound is good only as Bearer. The proof is
   * checked first (it needs no call to Latchkey), then the token, then that the two match.
   */
  async function authenticate(ctx: Context, scheme: 'Bearer' | 'DPoP', token: string): Promise<Caller> {
    const proofKey =
      scheme === 'DPoP'
        ? await verifyProof({
            proof: ctx.get('dpop') || undefined,
            method: ctx.method,
            // This request's URL as the client addressed it. Behind a reverse proxy, set
            // app.proxy (and have the proxy send X-Forwarded-Proto/-Host), or use the API's
            // public URL here: htu names the URL the client called, not the one the API sees.
            url: `${ctx.protocol}://${ctx.host}${ctx.path}`,
            accessToken: token,
          })
        : undefined;
    const caller = COMPACT_JWS.test(token) ? await verifyJwt(token) : await introspect(token);
    if (caller.jkt && scheme === 'Bearer') throw new InvalidToken('the access token is DPoP-bound: send it as Authorization: DPoP, with a DPoP proof', 'DPoP');
    if (!caller.jkt && scheme === 'DPoP') throw new InvalidToken('the access token is not DPoP-bound: send it as Authorization: Bearer');
    if (caller.jkt !== proofKey) throw new InvalidToken('the access token is bound to another key than the DPoP proof');
    return caller;
  }

  function requireToken(scope: string) {
    return async (ctx: Context, next: Next) => {
      const match = AUTHORIZATION.exec(ctx.get('authorization'));
      if (!match) {
        // RFC 6750 §3.1: a request without credentials gets the challenge but no error code;
        // RFC 9449 §7.1: one challenge per scheme the API takes.
        ctx.set('WWW-Authenticate', [BEARER_CHALLENGE, DPOP_CHALLENGE]);
        refuse(ctx, 401, { error_description: 'this API needs an access token: Authorization: Bearer <token>, or DPoP <token> with a DPoP proof' });
        return;
      }
      const scheme = match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
      const token = match[2]!;
      // Errors are answered in the scheme the caller used, and in DPoP for a DPoP-bound token sent as Bearer.
      const challenge = scheme === 'DPoP' ? DPOP_CHALLENGE : BEARER_CHALLENGE;
      let caller: Caller;
      try {
        caller = await authenticate(ctx, scheme, token);
      } catch (error) {
        if (!(error instanceof InvalidToken || error instanceof InvalidDPoPProof)) {
          ctx.app.emit('error', error, ctx);
          refuse(ctx, 503, { error: 'temporarily_unavailable', error_description: 'the access token could not be checked with Latchkey' });
          return;
        }
        const code = error instanceof InvalidDPoPProof ? 'invalid_dpop_proof' : 'invalid_token';
        const answerIn = error instanceof InvalidToken && error.scheme === 'DPoP' ? DPOP_CHALLENGE : challenge;
        ctx.set('WWW-Authenticate', `${answerIn}, error="${code}", error_description="${error.message}"`);
        refuse(ctx, 401, { error: code, error_description: error.message });
        return;
      }
      if (!caller.scopes.includes(scope)) {
        ctx.set('WWW-Authenticate', `${challenge}, error="insufficient_scope", scope="${scope}"`);
        refuse(ctx, 403, { error: 'insufficient_scope', error_description: `the access token lacks the scope ${scope}` });
        return;
      }
      ctx.state.caller = caller;
      await next();
    };
  }

  const router = new Router();
  router.get('/api/hello', requireToken(HELLO_SCOPE), (ctx) => {
    const caller = ctx.state.caller as Caller;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      message: 'Hello from the example API: your access token is good.',
      sub: caller.sub,
      client_id: caller.clientId,
      scope: caller.scopes.join(' '),
      token_format: caller.format,
      // DPoP when the token is bound to the caller's key and came with a good proof (RFC 9449).
      token_type: caller.jkt ? 'DPoP' : 'Bearer',
    };
  });

  const app = new Koa();
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use((ctx) => {
    ctx.status = 404;
    ctx.body = { error: 'not_found', error_description: 'this API has one route: GET /api/hello' };
  });

  const server = http.createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function refuse(ctx: Context, status: number, body: Record<string, string>) {
  ctx.status = status;
  ctx.body = body;
}

function jwtProblem(error: jose.JOSEError): string {
  if (error instanceof jose.JWTExpired) return 'the access token has expired';
  if (error instanceof jose.JWTClaimValidationFailed && error.claim === 'aud') return 'the access token is meant for another API';
  return 'the access token is not valid';
}

/** `{ jkt }` when a token's `cnf` (JWT claim or introspection member, RFC 9449 §6) binds it to a DPoP key. */
function boundTo(cnf: unknown): { jkt?: string } {
  const jkt = (cnf as { jkt?: unknown } | undefined)?.jkt;
  return typeof jkt === 'string' ? { jkt } : {};
}

function scopesOf(scope: unknown): string[] {
  return typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
}

function audiencesOf(aud: string | string[] | undefined): string[] {
  return Array.isArray(aud) ? aud : aud ? [aud] : [];
}
