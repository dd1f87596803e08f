import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import { setCookie } from '../cookies.js';

/**
 * A first-party application's cookies: signed with the provider's cookie secrets (newest first,
 * any accepted, so a rotation does not sign everyone out) and scoped to the application's path.
 */
export interface CookieJar {
  get(ctx: Context, name: string): string | undefined;
  set(ctx: Context, name: string, value: string, options?: { maxAgeSeconds?: number }): void;
  clear(ctx: Context, name: string): void;
}

function signature(key: string, name: string, value: string): string {
  return createHmac('sha256', key).update(`${name}=${value}`).digest('base64url');
}

export function cookieJar(options: { keys: () => string[]; secure: boolean; path: string }): CookieJar {
  return {
    get(ctx, name) {
      const raw = ctx.cookies.get(name);
      const dot = raw?.lastIndexOf('.') ?? -1;
      if (!raw || dot < 0) return undefined;
      const value = Buffer.from(raw.slice(0, dot), 'base64url').toString('utf8');
      const given = Buffer.from(raw.slice(dot + 1));
      const valid = options.keys().some((key) => {
        const expected = Buffer.from(signature(key, name, value));
        return expected.length === given.length && timingSafeEqual(expected, given);
      });
      return valid ? value : undefined;
    },
    set(ctx, name, value, { maxAgeSeconds } = {}) {
      const key = options.keys()[0];
      if (!key) throw new Error(`no cookie secret to sign the ${options.path} cookies with`);
      const encoded = `${Buffer.from(value).toString('base64url')}.${signature(key, name, value)}`;
      setCookie(ctx, name, encoded, { path: options.path, secure: options.secure, maxAgeSeconds });
    },
    clear(ctx, name) {
      setCookie(ctx, name, '', { path: options.path, secure: options.secure, maxAgeSeconds: 0 });
    },
  };
}
