import { LOCALES, type Locale } from './locales.js';

/** The cookie the language switcher sets: a person's explicit choice outranks what the app or browser asks for. */
export const LANGUAGE_COOKIE = 'latchkey_lang';

/** The locale we have for a BCP 47 tag: exact (en-XA), else by its language (de-AT -> de). */
export function supportedLocale(tag: string): Locale | undefined {
  const lower = tag.trim().toLowerCase();
  const exact = LOCALES.find((locale) => locale.toLowerCase() === lower);
  if (exact) return exact;
  const language = lower.split('-')[0];
  return LOCALES.find((locale) => locale === language);
}

/** Accept-Language tags by preference (RFC 9110 §12.5.4); q=0 means "not this one". */
function acceptedTags(header: string): string[] {
  return header
    .split(',')
    .map((part, index) => {
      const [tag = '', ...parameters] = part.trim().split(';');
      const q = parameters.map((parameter) => /^\s*q\s*=\s*([\d.]+)\s*$/i.exec(parameter)?.[1]).find((value) => value !== undefined);
      return { tag: tag.trim(), q: q === undefined ? 1 : Number(q), index };
    })
    .filter(({ tag, q }) => tag !== '' && tag !== '*' && q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map(({ tag }) => tag);
}

export interface LocaleRequest {
  /** The switcher's cookie. */
  chosen?: string | undefined;
  /** OIDC `ui_locales` of the authorization request: space-separated, by preference (Core §3.1.2.1). */
  uiLocales?: unknown;
  acceptLanguage?: string | undefined;
}

/** The switcher's choice, then the app's ui_locales, then the browser's Accept-Language, then English. */
export function negotiateLocale(request: LocaleRequest): Locale {
  const candidates = [
    ...(request.chosen ? [request.chosen] : []),
    ...(typeof request.uiLocales === 'string' ? request.uiLocales.split(/\s+/) : []),
    ...acceptedTags(request.acceptLanguage ?? ''),
  ];
  for (const tag of candidates) {
    const locale = supportedLocale(tag);
    if (locale) return locale;
  }
  return 'en';
}
