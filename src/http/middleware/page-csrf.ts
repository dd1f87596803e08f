import { randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import { setCookie } from '../cookies.js';
import { csrfProtection } from './csrf.js';

const CSRF_COOKIE = 'latchkey_csrf';

/**
 * CSRF protection for pages with no session of their own (sign-in, sign-up, password reset):
 * a random browser id in a cookie, and forms carry an HMAC of it (csrf.ts). A cross-site form
 * can send the cookie at most, never the matching token. Mount after the body parser.
 */
export function pageCsrf(options: { keys: () => string[]; secure: boolean }) {
  const protect = csrfProtection({ keys: options.keys, session: (ctx) => ctx.state.browserId as string | undefined });
  return async (ctx: Context, next: Next) => {
    let browserId = ctx.cookies.get(CSRF_COOKIE);
    if (!browserId || !/^[\w-]{43}$/.test(browserId)) {
      browserId = undefined;
      // A POST without the cookie fails the check below; a page view starts a new one.
      if (['GET', 'HEAD'].includes(ctx.method)) {
        browserId = randomBytes(32).toString('base64url');
        setCookie(ctx, CSRF_COOKIE, browserId, { path: '/', secure: options.secure });
      }
    }
    ctx.state.browserId = browserId;
    await protect(ctx, next);
  };
}
