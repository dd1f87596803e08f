import { bodyParser } from '@koa/bodyparser';
import type { Router } from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import * as oidc from 'openid-client';
import { databaseUnavailable } from '../../db/unavailable.js';
import type { Deps } from '../../deps.js';
import { LatchkeyError } from '../../errors.js';
import { catalogs } from '../../i18n/messages/index.js';
import { Html, literal, type MessageKey, type Params } from '../../i18n/translate.js';
import { cookieSecrets, type Provider } from '../../oidc/provider.js';
import { seeOther } from '../forms.js';
import { csrfProtection } from '../middleware/csrf.js';
import { pageTranslator, renderPage } from '../render.js';
import { cookieJar } from './cookies.js';
import { firstPartyOpenId, type PendingSignIn, type SignInRequest } from './openid.js';

const SIGN_IN_SECONDS = 600;

/** A message for the next page, after an action that redirects. */
export interface Flash {
  /** The message, in this request's language: markup, for `<%- flash.html %>`. */
  take(ctx: Context): Html | undefined;
  /** String params are data (a name, an address): shown as they are, marked translate="no". */
  put(ctx: Context, key: MessageKey, params?: Params): void;
}

interface FlashMessage {
  key: MessageKey;
  params: Params;
}

function isMessageKey(key: unknown): key is MessageKey {
  return typeof key === 'string' && Object.hasOwn(catalogs.en, key);
}

/** The message a flash cookie holds; anything else (an older release's plain text) is dropped. */
function readFlash(saved: string): FlashMessage | undefined {
  try {
    const parsed = JSON.parse(saved) as Partial<FlashMessage> | null;
    if (!parsed || !isMessageKey(parsed.key)) return undefined;
    const params = Object.fromEntries(Object.entries(parsed.params ?? {}).filter(([, value]) => typeof value === 'string' || typeof value === 'number'));
    return { key: parsed.key, params };
  } catch {
    return undefined;
  }
}

/** What the access token behind a session comes to, checked on every request. */
export type Authorization<P> = { principal: P } | 'sign-in' | 'refused';

export interface FirstPartyOptions<P> {
  /** Where the application lives ('/admin'); its cookies are scoped to it. */
  basePath: string;
  /** Its session cookie; the sign-in and flash cookies are named after it. */
  cookieName: string;
  /** How a message names it: "Open <label> again." (src/i18n has that message for each label). */
  label: 'your account page' | 'the admin console';
  /** The part of the site its pages are in (the page titles' section). */
  section?: MessageKey;
  signIn: SignInRequest;
  /** The view shown at <basePath>/signed-out. */
  signedOutView: string;
  /**
   * Who the token acts for (routes read it as ctx.state.principal), 'sign-in' when it no longer
   * works (expired, revoked, its user gone: signing in again is silent while the provider's
   * session lasts), or 'refused' for someone who may not use the application.
   */
  authorize(ctx: Context, token: string): Promise<Authorization<P>>;
  /** Answers a refusal: from authorize, or from the provider at the callback (access_denied). */
  refused(ctx: Context, signOutUrl: string): Promise<void>;
}

export interface FirstPartySession {
  /** Before every signed-in route: form parsing, the session check, CSRF. */
  readonly guard: Middleware[];
  readonly flash: Flash;
  /** Forgets the session in this browser (its sign-in has ended). */
  forget(ctx: Context): void;
  /** Response headers for every page, and <basePath>/callback, /logout and /signed-out. */
  mount(router: Router): void;
}

/**
 * The session of one of Latchkey's own applications is the access token it was issued, in a
 * signed cookie. It is checked on every request, so revoking the token, disabling the user
 * (or, for the console, demoting them) takes effect on the next click.
 */
export function firstPartySession<P>(deps: Deps, provider: () => Provider, options: FirstPartyOptions<P>): FirstPartySession {
  const { basePath, cookieName } = options;
  const signInCookie = `${cookieName}_sign_in`;
  const flashCookie = `${cookieName}_flash`;
  // The provider's cookie secrets: stored in the database, rotated with the provider.
  const keys = () => cookieSecrets(provider());
  const jar = cookieJar({ keys, secure: deps.config.http.issuer.startsWith('https:'), path: basePath });
  const openid = firstPartyOpenId(deps.config, provider, options.signIn);
  const form = bodyParser({ enableTypes: ['form'], formLimit: '64kb' });
  const csrf = csrfProtection({ keys, session: (ctx) => ctx.state.sessionToken as string | undefined });

  async function signIn(ctx: Context) {
    // A form cannot be replayed after signing in: come back to the application's start instead.
    const { url, pending } = await openid.start(ctx.method === 'GET' ? ctx.url : basePath);
    jar.set(ctx, signInCookie, JSON.stringify(pending), { maxAgeSeconds: SIGN_IN_SECONDS });
    seeOther(ctx, url.href);
  }

  async function refuse(ctx: Context) {
    jar.clear(ctx, cookieName);
    await options.refused(ctx, openid.endSessionUrl().href);
  }

  const readSession: Middleware = async (ctx: Context, next: Next) => {
    ctx.state.sessionToken = jar.get(ctx, cookieName);
    await next();
  };

  const requireSession: Middleware = async (ctx: Context, next: Next) => {
    const token = ctx.state.sessionToken as string | undefined;
    if (!token) return signIn(ctx);
    const found = await options.authorize(ctx, token);
    if (found === 'sign-in') return signIn(ctx);
    if (found === 'refused') return refuse(ctx);
    ctx.state.principal = found.principal;
    await next();
  };

  const flash: Flash = {
    take(ctx) {
      const saved = jar.get(ctx, flashCookie);
      if (saved === undefined) return undefined;
      jar.clear(ctx, flashCookie);
      const message = readFlash(saved);
      if (!message) return undefined;
      const params = Object.fromEntries(Object.entries(message.params).map(([name, value]) => [name, typeof value === 'string' ? literal(value) : value]));
      return new Html(pageTranslator(ctx).html(message.key, params));
    },
    put(ctx, key, params = {}) {
      jar.set(ctx, flashCookie, JSON.stringify({ key, params } satisfies FlashMessage), { maxAgeSeconds: 60 });
    },
  };

  function mount(router: Router) {
    router.use(async (ctx, next) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.set('X-Frame-Options', 'DENY');
      await next();
    });

    router.get('/callback', async (ctx) => {
      const saved = jar.get(ctx, signInCookie);
      jar.clear(ctx, signInCookie);
      if (ctx.query.error === 'access_denied') return refuse(ctx);
      if (!saved) return signIn(ctx);
      const pending = JSON.parse(saved) as PendingSignIn;
      let token: string;
      try {
        token = await openid.finish(ctx.querystring, pending);
      } catch (error) {
        // The token endpoint's own 503 (the database is away) is not the user's doing: say so.
        if (error instanceof oidc.ResponseBodyError && error.error === 'temporarily_unavailable') {
          throw databaseUnavailable(error);
        }
        throw new LatchkeyError('interaction.expired', `This sign-in could not be completed. Open ${options.label} again.`, { cause: error });
      }
      jar.set(ctx, cookieName, token);
      seeOther(ctx, pending.next);
    });

    router.post('/logout', form, readSession, csrf, async (ctx) => {
      jar.clear(ctx, cookieName);
      await openid.revoke(ctx.state.sessionToken as string);
      // RP-initiated logout: the provider asks whether to end the Latchkey session too.
      seeOther(ctx, openid.endSessionUrl().href);
    });

    router.get('/signed-out', async (ctx) => {
      ctx.type = 'html';
      ctx.body = await renderPage(ctx, options.signedOutView, { title: 'logged_out.title', ...(options.section ? { section: options.section } : {}), theme: deps.config.theme }, {});
    });
  }

  return {
    guard: [form, readSession, requireSession, csrf],
    flash,
    forget: (ctx) => jar.clear(ctx, cookieName),
    mount,
  };
}
