const ACCENTED: Record<string, string> = Object.fromEntries(
  [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'].map((letter, index) => [letter, [...'àƀçđéƒĝĥîĵķĺɱñöþǫŕšţûṽŵẋýžÀßÇĐÉƑĜĤÎĴĶĹṀÑÖÞǪŔŠŢÛṼŴẊÝŽ'][index]!]),
);

/**
 * A message as the pseudo-locale shows it: readable, visibly not English, placeholders kept, in
 * brackets so a test can tell translated text from text that never went through the table.
 */
export function pseudoLocalize(message: string): string {
  const accented = message
    .split(/(\{\w+\})/)
    .map((part) => (/^\{\w+\}$/.test(part) ? part : [...part].map((character) => ACCENTED[character] ?? character).join('')))
    .join('');
  return `⟦${accented}⟧`;
}
