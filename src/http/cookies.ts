import type { Context } from 'koa';

export interface CookieOptions {
  path: string;
  secure: boolean;
  maxAgeSeconds?: number | undefined;
}

/**
 * A Set-Cookie line: HttpOnly and SameSite=Lax always, Secure when the issuer is https. Written
 * by hand because Koa refuses Secure cookies on the plain-http hop behind a TLS-terminating proxy.
 */
export function setCookie(ctx: Context, name: string, value: string, options: CookieOptions): void {
  const attributes = [
    `Path=${options.path}`,
    'HttpOnly',
    'SameSite=Lax',
    ...(options.secure ? ['Secure'] : []),
    ...(options.maxAgeSeconds !== undefined ? [`Max-Age=${options.maxAgeSeconds}`] : []),
  ];
  ctx.append('Set-Cookie', `${name}=${value}; ${attributes.join('; ')}`);
}
