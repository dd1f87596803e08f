import type { Context, Next } from 'koa';
import { pooledRandomBytes } from '../../util/random.js';

/**
 * Headers for every response, the provider's pages included: they are set on the Node response
 * before oidc-provider runs, so its form_post page adds its script's hash to this very policy.
 * No `form-action`: Chromium applies it to the redirect back to the client after a POST.
 * Scripts need the per-request nonce (`ctx.state.cspNonce`); images may come from any https
 * origin (client and theme logos).
 */
export function securityHeaders(options: { https: boolean }) {
  return async (ctx: Context, next: Next) => {
    const nonce = pooledRandomBytes(16).toString('base64');
    ctx.state.cspNonce = nonce;
    ctx.set(
      'Content-Security-Policy',
      [
        "default-src 'self'",
        `script-src 'nonce-${nonce}'`,
        "style-src 'self'",
        "img-src 'self' https: data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
      ].join('; '),
    );
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    if (options.https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    await next();
  };
}
