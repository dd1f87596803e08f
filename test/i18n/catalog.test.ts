import test from 'ava';
import { LANGUAGES, PSEUDO_LOCALE } from '../../src/i18n/locales.js';
import { areas } from '../../src/i18n/messages/index.js';
import { negotiateLocale } from '../../src/i18n/negotiate.js';
import { literal, translator } from '../../src/i18n/translate.js';

const placeholders = (message: string) => [...message.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();

test('every key of every area exists in every language, non-empty, with the same placeholders as the English', (t) => {
  for (const [area, tables] of Object.entries(areas)) {
    const english = tables.en as Record<string, string>;
    for (const language of LANGUAGES) {
      const table = tables[language] as Record<string, string>;
      t.deepEqual(Object.keys(table).sort(), Object.keys(english).sort(), `${area}: ${language} has other keys than en`);
      for (const [key, message] of Object.entries(table)) {
        t.true(message.trim().length > 0, `${area}/${language}: ${key} is empty`);
        t.deepEqual(placeholders(message), placeholders(english[key] ?? ''), `${area}/${language}: ${key} has other placeholders than en`);
      }
    }
  }
});

test('a key belongs to one area only, so no area overwrites another’s message', (t) => {
  const owner = new Map<string, string>();
  for (const [area, tables] of Object.entries(areas)) {
    for (const key of Object.keys(tables.en)) {
      t.is(owner.get(key), undefined, `${key} is in ${owner.get(key)} and ${area}`);
      owner.set(key, area);
    }
  }
});

test('the pseudo-locale accents and brackets every message and keeps its placeholders working', (t) => {
  const pseudo = translator(PSEUDO_LOCALE);
  t.is(pseudo('login.title'), '⟦Šîĝñ îñ⟧');
  t.is(pseudo('login.lead', { client: 'Acme' }), '⟦ţö çöñţîñûé ţö Acme⟧');
  t.is(pseudo.html('login.lead', { client: literal('A&B', 'strong') }), '⟦ţö çöñţîñûé ţö <strong translate="no">A&amp;B</strong>⟧');
});

test('messages escape what they are given in HTML, and keep placeholders nobody filled visible', (t) => {
  const english = translator('en');
  t.is(english.html('login.lead', { client: '<script>' }), 'to continue to &lt;script&gt;');
  t.is(english('login.lead'), 'to continue to {client}');
});

test('a message domain code wrote in English is found by its pattern and translated, its values kept', (t) => {
  const german = translator('de');
  t.is(german.message('must be at least 12 characters'), 'muss mindestens 12 Zeichen lang sein');
  t.is(german.message('Too many attempts. Try again in 30 seconds.'), 'Zu viele Versuche. Versuche es in 30 Sekunden erneut.');
  t.is(german.message('Too many attempts. Try again in 1 second.'), 'Zu viele Versuche. Versuche es in einer Sekunde erneut.');
  t.is(german.message('a message nobody translated'), 'a message nobody translated');
});

test('the switcher’s choice outranks ui_locales, which outranks Accept-Language (by q), which outranks English', (t) => {
  t.is(negotiateLocale({}), 'en');
  t.is(negotiateLocale({ acceptLanguage: 'fr-FR, de;q=0.8, en;q=0.9' }), 'en');
  t.is(negotiateLocale({ acceptLanguage: 'fr-FR, de-AT;q=0.9, en;q=0.8' }), 'de');
  t.is(negotiateLocale({ acceptLanguage: 'de;q=0, en' }), 'en');
  t.is(negotiateLocale({ uiLocales: 'sv de', acceptLanguage: 'en' }), 'de');
  t.is(negotiateLocale({ chosen: 'en', uiLocales: 'de', acceptLanguage: 'de' }), 'en');
  t.is(negotiateLocale({ chosen: 'xx', uiLocales: 'de' }), 'de');
  t.is(negotiateLocale({ acceptLanguage: 'en-XA' }), PSEUDO_LOCALE);
});
