/** The languages every page is written in, in the order the switcher lists them. */
export const LANGUAGES = ['en', 'de'] as const;
export type Language = (typeof LANGUAGES)[number];

/**
 * Every string of every page with its letters accented and in ⟦brackets⟧ (BCP 47 private-use
 * region, as Chrome and Android name theirs): text on a page that is not bracketed did not go
 * through the translation table. Chosen like any language, never offered by the switcher.
 */
export const PSEUDO_LOCALE = 'en-XA';

export type Locale = Language | typeof PSEUDO_LOCALE;

/** Each language in itself, as the switcher shows it. */
export const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', de: 'Deutsch' };

export const LOCALES: readonly Locale[] = [...LANGUAGES, PSEUDO_LOCALE];
