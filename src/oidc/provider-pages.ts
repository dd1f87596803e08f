import type { Middleware } from 'koa';
import type { Config } from '../config.js';
import { LatchkeyError } from '../errors.js';
import { errorPage } from '../http/middleware/error-handler.js';
import { renderPage } from '../http/render.js';

/** oidc-provider's self-submitting form page (response_mode=form_post, logout without a session). */
const PROVIDER_FORM_PAGE = /<title>Submitting Callback<\/title>/;

function decodeHtml(value: string): string {
  return value.replace(/&(?:#(\d+)|#x([0-9a-f]+)|(amp|lt|gt|quot|apos));/gi, (entity, decimal?: string, hex?: string, name?: string) => {
    if (decimal) return String.fromCodePoint(Number(decimal));
    if (hex) return String.fromCodePoint(parseInt(hex, 16));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[name!.toLowerCase() as 'amp'] ?? entity;
  });
}

/**
 * oidc-provider writes the page that carries a form_post response (and the one that confirms
 * a logout without a session) itself, in English and without our layout; it has no setting to
 * render it. Nobody with JavaScript sees it for long, but without JavaScript it is a page to
 * read and press a button on. This renders the same form, fields and script (whose hash the
 * provider has already added to the Content-Security-Policy) in our layout and the reader's
 * language.
 */
export function continuePage(theme: Config['theme']): Middleware {
  return async (ctx, next) => {
    await next();
    if (typeof ctx.body !== 'string' || !PROVIDER_FORM_PAGE.test(ctx.body)) return;
    const page = ctx.body;
    const action = /<form method="post" action="([^"]*)">/.exec(page)?.[1];
    const script = /<script>([\s\S]*?)<\/script>/.exec(page)?.[1];
    if (action === undefined || script === undefined) return;
    const fields = [...page.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"\/>/g)].map(([, name, value]) => [decodeHtml(name!), decodeHtml(value!)]);
    const uiLocales = (ctx as { oidc?: { params?: { ui_locales?: unknown } } }).oidc?.params?.ui_locales;
    ctx.body = await renderPage(ctx, 'interactions/continue', { title: 'continue.title', theme, uiLocales }, { action: decodeHtml(action), fields, script });
  };
}

/**
 * An address nothing answers at: oidc-provider leaves Koa's bare "Not Found". A browser gets
 * the same error page as our routes give; machines keep the plain 404.
 */
export function notFoundPage(theme: Config['theme']): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status !== 404 || (ctx.body !== undefined && ctx.body !== null) || ctx.accepts(['json', 'html']) !== 'html') return;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await errorPage(ctx, new LatchkeyError('route.not_found'), theme);
    ctx.status = 404;
  };
}
