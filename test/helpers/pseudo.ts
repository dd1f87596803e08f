/** Attributes a person reads or hears, which need translating like text. */
const READ_ATTRIBUTES = ['alt', 'title', 'placeholder', 'aria-label'];

function decode(text: string): string {
  return text
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_, code: string) => String.fromCharCode(parseInt(code, 16)))
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}

/** Without the pseudo-locale's ⟦bracketed⟧ messages, innermost first (a message can hold another). */
function withoutMessages(text: string): string {
  let rest = text;
  for (let previous = ''; previous !== rest; ) {
    previous = rest;
    rest = rest.replace(/⟦[^⟦⟧]*⟧/g, ' ');
  }
  return rest;
}

/**
 * The text of a page rendered in the pseudo-locale that did not go through the translation
 * table: what a person reads (text, and the attributes above) outside ⟦brackets⟧ and outside
 * elements marked translate="no" (names, addresses, codes: data, not our words).
 */
export function untranslatedText(html: string): string[] {
  let rest = html.replace(/<(script|style|template)\b[\s\S]*?<\/\1>/gi, ' ').replace(/<!--[\s\S]*?-->/g, ' ');
  rest = rest.replace(/<title>[\s\S]*?<\/title>/i, (title) => title.replace(/<\/?title>/gi, ' '));
  // Elements that are data, with what they hold; void ones (img, input) carry it in attributes.
  for (let previous = ''; previous !== rest; ) {
    previous = rest;
    rest = rest.replace(/<(\w+)\b[^>]*\stranslate="no"[^>]*>(?:(?!<\1\b)[\s\S])*?<\/\1>/g, ' ');
  }
  rest = rest.replace(/<(?:img|input)\b[^>]*\stranslate="no"[^>]*>/g, ' ');
  const read: string[] = [];
  rest = rest.replace(/<[^>]+>/g, (tag) => {
    for (const name of READ_ATTRIBUTES) {
      const value = new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
      if (value !== undefined) read.push(decode(value));
    }
    if (/^<input\b/i.test(tag) && /\stype="(?:submit|button|reset)"/i.test(tag)) {
      const value = /\svalue="([^"]*)"/.exec(tag)?.[1];
      if (value !== undefined) read.push(decode(value));
    }
    return ' ';
  });
  return [decode(rest), ...read]
    .map((text) => withoutMessages(text))
    .flatMap((text) => text.split(/\s{2,}|\n/))
    .map((text) => text.trim())
    .filter((text) => /\p{L}/u.test(text));
}
