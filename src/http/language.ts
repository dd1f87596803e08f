import { Router } from '@koa/router';
import type { Config } from '../config.js';
import { setCookie } from './cookies.js';
import { LANGUAGE_COOKIE, supportedLocale } from '../i18n/negotiate.js';

const ONE_YEAR = 365 * 86400;

/**
 * A path on this origin to go back to, returned only when the URL parser reads it exactly as
 * given: dot segments or escapes that resolve to `//host` (which a browser takes for another
 * origin) make it not one.
 */
function sameOriginPath(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 2048 || !value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return undefined;
  const base = 'https://latchkey.invalid';
  const resolved = new URL(value, base);
  const path = resolved.pathname + resolved.search;
  return resolved.origin === base && path === value && !path.startsWith('//') ? path : undefined;
}

/**
 * The language switcher: plain links, so it works without JavaScript. The choice is kept in a
 * cookie for a year and outranks what an application or the browser asks for.
 */
export function languageRouter(config: Config): Router {
  const router = new Router();
  router.get('/language', (ctx) => {
    const locale = typeof ctx.query.lang === 'string' ? supportedLocale(ctx.query.lang) : undefined;
    if (locale) setCookie(ctx, LANGUAGE_COOKIE, locale, { path: '/', secure: config.http.issuer.startsWith('https:'), maxAgeSeconds: ONE_YEAR });
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(sameOriginPath(ctx.query.return_to) ?? '/account');
  });
  return router;
}
