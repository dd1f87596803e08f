import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type { Context } from 'koa';
import type { Config } from '../config.js';
import { LANGUAGE_COOKIE, negotiateLocale } from '../i18n/negotiate.js';
import { languageChoices, literal, translator, type MessageKey, type Params, type Translate } from '../i18n/translate.js';

export const viewsDir = fileURLToPath(new URL('../../views/', import.meta.url));

export interface Page {
  /** The page's name in the tab: a message, with its placeholders' values. */
  title: MessageKey;
  titleParams?: Params;
  /** The part of the site (the admin console, the account page), after the page's name. */
  section?: MessageKey;
  theme: Config['theme'];
  /** The authorization request's ui_locales, on pages an application sent the browser to. */
  uiLocales?: unknown;
  /** Where the language switcher comes back to, for a page a form's POST answered. */
  returnTo?: string;
}

/** The locale of this request's pages: the switcher's cookie, then ui_locales, then Accept-Language. */
export function pageTranslator(ctx: Context, uiLocales?: unknown): Translate {
  return translator(negotiateLocale({ chosen: ctx.cookies.get(LANGUAGE_COOKIE), uiLocales, acceptLanguage: ctx.get('accept-language') }));
}

/**
 * Renders a view inside the one layout. Every view gets `t` (every string a person reads goes
 * through it), `literal` for data in a message, and `theme`. Every value is escaped by the
 * templates (`<%=`); data that is not ours to translate (names, addresses, codes) sits in an
 * element marked translate="no".
 */
export async function renderPage(ctx: Context, view: string, page: Page, locals: Record<string, unknown>): Promise<string> {
  const t = pageTranslator(ctx, page.uiLocales);
  // Scripts (passkeys) load only with this request's nonce (http/middleware/security-headers.ts).
  const shared = { t, literal, theme: page.theme, cspNonce: ctx.state.cspNonce as string | undefined };
  // Templates ship with the release: compile each once per process.
  const body = await ejs.renderFile(path.join(viewsDir, `${view}.ejs`), { ...shared, ...locals }, { cache: true });
  const name = t(page.title, page.titleParams);
  const product = page.theme.name;
  const title = page.section ? t('layout.title_in_section', { page: name, section: t(page.section), product }) : t('layout.title', { page: name, product });
  // The switcher comes back to this page by loading it again. A form's answer can only be come
  // back to where its caller says; the provider's pages (ctx.oidc) cannot be loaded again
  // (their request is used up, or carries parameters such as state that are not ours to
  // repeat into a link). Without a way back there is no switcher.
  const here = page.returnTo ?? (ctx.method === 'GET' && !('oidc' in ctx) ? ctx.originalUrl : undefined);
  return ejs.renderFile(
    path.join(viewsDir, 'layout.ejs'),
    { ...shared, title, lang: t.locale, body, languages: languageChoices(), returnTo: here },
    { cache: true },
  );
}
