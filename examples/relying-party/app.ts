import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bodyParser } from '@koa/bodyparser';
import { Router } from '@koa/router';
import ejs from 'ejs';
import Koa, { type Context } from 'koa';
import * as oidc from 'openid-client';
import { csrfTokenMatches, SessionStore, type Session, type SignedInUser } from './sessions.js';

export interface RelyingPartyOptions {
  /** Latchkey's issuer URL, e.g. http://localhost:3000. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The API endpoint the "Call the API" button calls, e.g. http://localhost:4000/api/hello. */
  apiUrl: string;
  /** The API's resource identifier in Latchkey; its tokens are meant for it. Default: apiUrl's origin. */
  apiResource?: string;
  /** 0 picks a free port. The app is at http://localhost:<port>. */
  port: number;
}

export interface RunningRelyingParty {
  /** e.g. http://localhost:8080; its client's redirect URI is this + /callback, its post-logout redirect URI this + /. */
  url: string;
  close(): Promise<void>;
}

/** The scope the example API asks for (examples/resource-server). */
const API_SCOPE = 'hello:read';
const SESSION_COOKIE = 'example_rp_session';
const SIGN_IN_LIFETIME_MS = 10 * 60_000;
const SESSION_LIFETIME_MS = 8 * 3600_000;
/** An API token this close to its expiry is replaced before a call rather than sent. */
const TOKEN_MARGIN_MS = 30_000;

const here = path.dirname(fileURLToPath(import.meta.url));
const viewsDir = path.join(here, 'views');

/** The example web app: signs users in with Latchkey and calls the example API for them. */
export async function startRelyingParty(options: RelyingPartyOptions): Promise<RunningRelyingParty> {
  const issuer = new URL(options.issuer);
  const config = await oidc
    .discovery(
      issuer,
      options.clientId,
      undefined,
      oidc.ClientSecretBasic(options.clientSecret),
      // openid-client refuses plain http unless told: an http ISSUER is for local development.
      issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined,
    )
    .catch((error: unknown) => {
      throw new Error(`could not read Latchkey's discovery document at ${issuer.href}: ${(error as Error).message}`, { cause: error });
    });
  const apiResource = options.apiResource ?? new URL(options.apiUrl).origin;
  const stylesheet = await fs.readFile(path.join(here, 'style.css'));

  // The redirect URIs name the port, so the app is built once the server listens on one.
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, () => resolve());
  });
  const url = `http://localhost:${(server.address() as AddressInfo).port}`;
  const redirectUri = `${url}/callback`;
  const sessions = new SessionStore();

  function currentSession(ctx: Context): Session | undefined {
    return sessions.get(ctx.cookies.get(SESSION_COOKIE));
  }

  /** A new session under a new id: what a browser held before a sign-in or sign-out is not reused. */
  function startSession(ctx: Context, lifetimeMs: number, contents: Parameters<SessionStore['create']>[1]): Session {
    const previous = currentSession(ctx);
    if (previous) sessions.delete(previous.id);
    const session = sessions.create(lifetimeMs, contents);
    ctx.cookies.set(SESSION_COOKIE, session.id, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: lifetimeMs, overwrite: true });
    return session;
  }

  async function render(ctx: Context, view: string, title: string, locals: Record<string, unknown> = {}, status = 200) {
    const body = await ejs.renderFile(path.join(viewsDir, `${view}.ejs`), { title, ...locals }, { cache: true });
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = await ejs.renderFile(path.join(viewsDir, 'layout.ejs'), { title, body }, { cache: true });
  }

  /** The notice waiting for the next page, removed once taken. */
  function takeNotice(session: Session | undefined): string | undefined {
    const notice = session?.notice;
    if (session) delete session.notice;
    return notice;
  }

  /** An access token for the API, from the refresh token: the sign-in's own token is for userinfo only. */
  function apiAccessToken(session: Session, user: SignedInUser): Promise<string> {
    if (session.apiToken && session.apiToken.expiresAt - TOKEN_MARGIN_MS > Date.now()) return Promise.resolve(session.apiToken.value);
    session.apiTokenRequest ??= (async () => {
      const tokens = await oidc.refreshTokenGrant(config, user.refreshToken, { resource: apiResource });
      if (tokens.refresh_token) user.refreshToken = tokens.refresh_token;
      session.apiToken = { value: tokens.access_token, expiresAt: Date.now() + (tokens.expiresIn() ?? 0) * 1000 };
      return tokens.access_token;
    })().finally(() => {
      delete session.apiTokenRequest;
    });
    return session.apiTokenRequest;
  }

  const router = new Router();

  router.get('/', async (ctx) => {
    const session = currentSession(ctx);
    const notice = takeNotice(session);
    const user = session?.user;
    if (!session || !user) {
      await render(ctx, 'home', 'Welcome', { notice });
      return;
    }
    const { userinfo, idTokenClaims } = user;
    await render(ctx, 'profile', 'Your account', {
      notice,
      csrfToken: session.csrfToken,
      name: [userinfo.name, userinfo.email, userinfo.sub].find((value) => typeof value === 'string' && value !== ''),
      email: typeof userinfo.email === 'string' ? userinfo.email : undefined,
      idTokenClaims: claimRows(idTokenClaims),
      userinfo: claimRows(userinfo),
      apiUrl: options.apiUrl,
      apiAnswer: session.apiAnswer,
    });
  });

  router.post('/login', async (ctx) => {
    const pendingSignIn = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() };
    startSession(ctx, SIGN_IN_LIFETIME_MS, { pendingSignIn });
    const authorizationUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      // offline_access brings the refresh token that gets the API its own access tokens;
      // OpenID Connect grants it only with prompt=consent, so Latchkey asks every time.
      scope: `openid profile email offline_access ${API_SCOPE}`,
      prompt: 'consent',
      resource: apiResource,
      code_challenge: await oidc.calculatePKCECodeChallenge(pendingSignIn.codeVerifier),
      code_challenge_method: 'S256',
      state: pendingSignIn.state,
      nonce: pendingSignIn.nonce,
    });
    seeOther(ctx, authorizationUrl.href);
  });

  router.get('/callback', async (ctx) => {
    const session = currentSession(ctx);
    const pending = session?.pendingSignIn;
    if (!session || !pending) {
      startSession(ctx, SIGN_IN_LIFETIME_MS, { notice: 'That sign-in had expired or was already finished. Please sign in again.' });
      seeOther(ctx, '/');
      return;
    }
    delete session.pendingSignIn;
    let user: SignedInUser;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, new URL(ctx.originalUrl, url), {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const idTokenClaims = tokens.claims()!;
      if (!tokens.refresh_token) throw new Error('Latchkey issued no refresh token: register the client with the refresh_token grant and the offline_access scope');
      user = {
        idToken: tokens.id_token!,
        idTokenClaims: { ...idTokenClaims },
        userinfo: { ...(await oidc.fetchUserInfo(config, tokens.access_token, idTokenClaims.sub)) },
        refreshToken: tokens.refresh_token,
      };
    } catch (error) {
      session.notice = signInProblem(error);
      seeOther(ctx, '/');
      return;
    }
    startSession(ctx, SESSION_LIFETIME_MS, { user });
    seeOther(ctx, '/');
  });

  router.post('/call-api', async (ctx) => {
    const session = currentSession(ctx);
    const user = session?.user;
    if (!session || !user) return seeOther(ctx, '/');
    if (!csrfTokenMatches(session, (ctx.request.body as Record<string, unknown>)._csrf)) return render(ctx, 'error', 'Try again', { message: formExpired }, 403);
    let token: string;
    try {
      token = await apiAccessToken(session, user);
    } catch (error) {
      if (!(error instanceof oidc.ResponseBodyError && error.error === 'invalid_grant')) throw error;
      // The grant is gone: revoked from the account page, the user disabled, or a refresh token reused.
      startSession(ctx, SIGN_IN_LIFETIME_MS, { notice: 'Your access through Latchkey has ended. Please sign in again.' });
      seeOther(ctx, '/');
      return;
    }
    try {
      const response = await fetch(options.apiUrl, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
      session.apiAnswer = { status: response.status, body: readable(await response.text()) };
    } catch (error) {
      session.apiAnswer = { status: 0, body: `The API did not answer: ${(error as Error).message}` };
    }
    seeOther(ctx, '/#api');
  });

  router.post('/logout', async (ctx) => {
    const session = currentSession(ctx);
    const user = session?.user;
    if (!session || !user) return seeOther(ctx, '/');
    if (!csrfTokenMatches(session, (ctx.request.body as Record<string, unknown>)._csrf)) return render(ctx, 'error', 'Try again', { message: formExpired }, 403);
    startSession(ctx, SIGN_IN_LIFETIME_MS, { notice: 'You have signed out.' });
    // offline_access keeps the grant through Latchkey's logout; ending it is this app's job.
    try {
      await oidc.tokenRevocation(config, user.refreshToken, { token_type_hint: 'refresh_token' });
    } catch (error) {
      ctx.app.emit('error', error, ctx);
    }
    seeOther(ctx, oidc.buildEndSessionUrl(config, { id_token_hint: user.idToken, post_logout_redirect_uri: `${url}/` }).href);
  });

  router.get('/style.css', (ctx) => {
    ctx.type = 'css';
    ctx.body = stylesheet;
  });

  const app = new Koa();
  app.use(async (ctx, next) => {
    ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'");
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Content-Type-Options', 'nosniff');
    // Pages show personal data and tokens come and go: nothing here belongs in a cache.
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
      if (ctx.status === 404 && !ctx.body) await render(ctx, 'error', 'Not found', { message: 'There is no page at this address.' }, 404);
    } catch (error) {
      ctx.app.emit('error', error, ctx);
      await render(ctx, 'error', 'Something went wrong', { message: 'Something went wrong on our side. Please try again in a moment.' }, 500);
    }
  });
  app.use(bodyParser({ enableTypes: ['form'] }));
  app.use(router.routes());
  app.use(router.allowedMethods());
  server.on('request', app.callback());

  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** 303, not Koa's 302: after a form post the browser must follow with a GET (RFC 9110 §15.4.4). */
function seeOther(ctx: Context, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}

const formExpired = 'This form has expired. Go back to the app, reload the page and try again.';

function signInProblem(error: unknown): string {
  if (error instanceof oidc.AuthorizationResponseError) {
    return error.error === 'access_denied' ? 'You did not allow the app to use your Latchkey account.' : `Latchkey did not sign you in: ${error.error_description ?? error.error}.`;
  }
  return `Sign-in failed: ${(error as Error).message}.`;
}

/** Claims whose value is a time (RFC 7519 NumericDate), shown also as a date. */
const TIME_CLAIMS = new Set(['exp', 'iat', 'auth_time', 'nbf', 'updated_at']);

/** Claims as rows for a table. */
function claimRows(claims: Record<string, unknown>): { name: string; value: string }[] {
  return Object.entries(claims).map(([name, value]) => ({
    name,
    value:
      TIME_CLAIMS.has(name) && typeof value === 'number'
        ? `${value} (${new Date(value * 1000).toISOString()})`
        : typeof value === 'string'
          ? value
          : JSON.stringify(value),
  }));
}

/** JSON indented for reading; anything else as it came. */
function readable(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
