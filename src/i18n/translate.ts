import { LANGUAGE_NAMES, LANGUAGES, PSEUDO_LOCALE, type Locale } from './locales.js';
import { catalogs, type MessageKey, type Messages } from './messages/index.js';
import { pseudoLocalize } from './pseudo.js';

export type { MessageKey } from './messages/index.js';

/** Markup a template built itself (escaped already), to put into a message as it is. */
export class Html {
  constructor(readonly html: string) {}
}

export type Params = Record<string, string | number>;
export type HtmlParams = Record<string, string | number | Html>;

export interface Translate {
  readonly locale: Locale;
  /** The message in this locale, `{name}` placeholders filled in: plain text, for `<%= %>`. */
  (key: MessageKey, params?: Params): string;
  /** The message escaped as HTML, with Html params (a <strong>, a link) put in as they are: for `<%- %>`. */
  html(key: MessageKey, params?: HtmlParams): string;
  /**
   * A message domain code wrote in English (an error, a field's problem) in this locale, found
   * by matching it against the English `domain.*` messages; one that matches none stays English.
   */
  message(english: string): string;
}

// The entities EJS's own `<%=` uses, so a value reads the same in a message as anywhere else.
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' };

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => ENTITIES[character]!);
}

/**
 * A value that is data, not text of ours (a name, an address, a code), for a message's
 * placeholder: in an element marked translate="no", so browsers' translators and the
 * pseudo-locale test leave it alone.
 */
export function literal(value: string, tag: 'span' | 'strong' | 'code' = 'span'): Html {
  return new Html(`<${tag} translate="no">${escapeHtml(value)}</${tag}>`);
}

function fill(message: string, params: HtmlParams, show: (value: string | number | Html) => string): string {
  return message.replace(/\{(\w+)\}/g, (placeholder, name: string) => (name in params ? show(params[name]!) : placeholder));
}

/** The English domain messages as patterns: `must be at least {min} characters` matches any number there. */
const domainPatterns = Object.entries(catalogs.en)
  .filter(([key]) => key.startsWith('domain.'))
  .map(([key, english]) => {
    const names: string[] = [];
    const source = english
      .split(/(\{\w+\})/)
      .map((part) => {
        const name = /^\{(\w+)\}$/.exec(part)?.[1];
        if (name === undefined) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(name);
        return '(.+?)';
      })
      .join('');
    return { key: key as MessageKey, names, pattern: new RegExp(`^${source}$`, 's') };
  });

const pseudoCatalog = Object.fromEntries(Object.entries(catalogs.en).map(([key, message]) => [key, pseudoLocalize(message)])) as Messages;

export function translator(locale: Locale): Translate {
  const messages = locale === PSEUDO_LOCALE ? pseudoCatalog : catalogs[locale];
  const t = ((key: MessageKey, params: Params = {}) => fill(messages[key], params, String)) as Translate;
  Object.defineProperty(t, 'locale', { value: locale });
  t.html = (key, params = {}) => fill(escapeHtml(messages[key]), params, (value) => (value instanceof Html ? value.html : escapeHtml(String(value))));
  t.message = (english) => {
    for (const { key, names, pattern } of domainPatterns) {
      const match = pattern.exec(english);
      if (match) return t(key, Object.fromEntries(names.map((name, index) => [name, match[index + 1]!])));
    }
    return english;
  };
  return t;
}

/** The switcher's entries: each language named in itself. */
export function languageChoices(): Array<{ locale: Locale; name: string }> {
  return LANGUAGES.map((locale) => ({ locale, name: LANGUAGE_NAMES[locale] }));
}
