/** Languages the pages are written in; the browser-experience work adds more. */
export const UI_LOCALES = ['en'] as const;

/** The first of the request's ui_locales (OIDC Core §3.1.2.1) that we have, else English. */
export function pageLanguage(uiLocales: unknown): string {
  if (typeof uiLocales !== 'string') return 'en';
  const match = uiLocales
    .split(/\s+/)
    .map((tag) => tag.toLowerCase())
    .find((tag) => UI_LOCALES.some((locale) => tag === locale || tag.startsWith(`${locale}-`)));
  return match ? match.split('-')[0]! : 'en';
}
