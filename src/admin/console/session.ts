import type { Router } from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import type { Deps } from '../../deps.js';
import { LatchkeyError } from '../../errors.js';
import { renderPage } from '../../http/render.js';
import type { Provider } from '../../oidc/provider.js';
import { authorizeAdmin } from '../auth.js';
import type { CookieJar } from './cookies.js';
import type { ConsoleOpenId, PendingSignIn } from './openid.js';

const SESSION_COOKIE = 'latchkey_console';
const SIGN_IN_COOKIE = 'latchkey_console_sign_in';
const FLASH_COOKIE = 'latchkey_console_flash';
const SIGN_IN_SECONDS = 600;

/**
 * The console's session is the admin access token itself, in a signed cookie. It is checked
 * with authorizeAdmin on every request, so revoking, demoting or disabling takes effect on the
 * next click; an expired token sends the browser to sign in again, which the provider's own
 * session makes silent.
 */
export function consoleSession(deps: Deps, provider: () => Provider, jar: CookieJar, openid: ConsoleOpenId) {
  async function signIn(ctx: Context) {
    // A form cannot be replayed after signing in: come back to the console's start instead.
    const { url, pending } = await openid.start(ctx.method === 'GET' ? ctx.url : '/admin');
    jar.set(ctx, SIGN_IN_COOKIE, JSON.stringify(pending), { maxAgeSeconds: SIGN_IN_SECONDS });
    ctx.status = 303;
    ctx.redirect(url.href);
  }

  async function notAllowed(ctx: Context) {
    jar.clear(ctx, SESSION_COOKIE);
    ctx.status = 403;
    ctx.type = 'html';
    ctx.body = await renderPage('admin/not-allowed', { title: 'Not allowed' }, { signOutUrl: openid.endSessionUrl().href });
  }

  const readSession: Middleware = async (ctx: Context, next: Next) => {
    ctx.state.sessionToken = jar.get(ctx, SESSION_COOKIE);
    await next();
  };

  const requireAdmin: Middleware = async (ctx: Context, next: Next) => {
    const token = ctx.state.sessionToken as string | undefined;
    if (!token) return signIn(ctx);
    try {
      ctx.state.principal = await authorizeAdmin(deps, provider(), token, ctx.ip);
    } catch (error) {
      if (!(error instanceof LatchkeyError)) throw error;
      if (error.code === 'admin.forbidden') return notAllowed(ctx);
      if (error.code === 'admin.unauthenticated') return signIn(ctx);
      throw error;
    }
    await next();
  };

  const flash = {
    take(ctx: Context) {
      const message = jar.get(ctx, FLASH_COOKIE);
      if (message !== undefined) jar.clear(ctx, FLASH_COOKIE);
      return message;
    },
    put(ctx: Context, message: string) {
      jar.set(ctx, FLASH_COOKIE, message, { maxAgeSeconds: 60 });
    },
  };

  /** /admin/callback, /admin/logout and /admin/signed-out. */
  function routes(router: Router, signOutGuard: Middleware[]) {
    router.get('/callback', async (ctx) => {
      const saved = jar.get(ctx, SIGN_IN_COOKIE);
      jar.clear(ctx, SIGN_IN_COOKIE);
      // The interaction refuses the admin scope to anyone who is not an administrator.
      if (ctx.query.error === 'access_denied') return notAllowed(ctx);
      if (!saved) return signIn(ctx);
      const pending = JSON.parse(saved) as PendingSignIn;
      let token: string;
      try {
        token = await openid.finish(ctx.querystring, pending);
      } catch (error) {
        throw new LatchkeyError('interaction.expired', 'This sign-in could not be completed. Open the admin console again.', { cause: error });
      }
      jar.set(ctx, SESSION_COOKIE, token);
      ctx.status = 303;
      ctx.redirect(pending.next);
    });

    router.post('/logout', ...signOutGuard, async (ctx) => {
      jar.clear(ctx, SESSION_COOKIE);
      await openid.revoke(ctx.state.sessionToken as string);
      // RP-initiated logout: the provider asks whether to end the Latchkey session too.
      ctx.status = 303;
      ctx.redirect(openid.endSessionUrl().href);
    });

    router.get('/signed-out', async (ctx) => {
      ctx.type = 'html';
      ctx.body = await renderPage('admin/signed-out', { title: 'Signed out' }, {});
    });
  }

  return { readSession, requireAdmin, flash, routes };
}
