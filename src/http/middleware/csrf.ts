import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { LatchkeyError } from '../../errors.js';

/** The hidden form field that carries the token. */
export const CSRF_FIELD = '_csrf';

export interface CsrfOptions {
  /** Secrets, newest first: tokens are made with the first and accepted from any (rotation). */
  keys: () => string[];
  /** The session the form belongs to; a token is only good for the session it was made for. */
  session: (ctx: Context) => string | undefined;
}

function tokenFor(key: string, session: string): string {
  return createHmac('sha256', key).update(`csrf:${session}`).digest('base64url');
}

function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Double-submit without extra state: the token is an HMAC of the session, so another site can
 * neither read nor compute it. Puts the token for forms in `ctx.state.csrfToken` and refuses
 * any other-than-GET/HEAD request whose parsed body lacks it. Mount after the body parser.
 */
export function csrfProtection(options: CsrfOptions) {
  return async (ctx: Context, next: Next) => {
    const session = options.session(ctx);
    const keys = options.keys();
    if (!['GET', 'HEAD'].includes(ctx.method)) {
      const submitted = (ctx.request.body as Record<string, unknown> | undefined)?.[CSRF_FIELD];
      const valid = session !== undefined && typeof submitted === 'string' && keys.some((key) => same(submitted, tokenFor(key, session)));
      if (!valid) throw new LatchkeyError('csrf.invalid');
    }
    if (session !== undefined && keys[0] !== undefined) ctx.state.csrfToken = tokenFor(keys[0], session);
    await next();
  };
}
