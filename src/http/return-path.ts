/**
 * Path segments as Latchkey makes them (interaction uids, account pages) and a plain query:
 * no empty segment (`//host`), no dot segment, no backslash, colon or percent-escape that a
 * browser could turn into any of these.
 */
const SAFE_PATH = /^(?:\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+\/?(?:\?[A-Za-z0-9._~=&-]*)?$/;

const PLACES = [/^\/interaction\/[^/?]+/, /^\/account(?:[/?]|$)/];

/**
 * Where a browser may be sent back to after an email link or a form: a same-origin path to a
 * sign-in in progress or the account page, returned as given. Anything else is undefined, and
 * callers then link nowhere.
 */
export function safeReturnPath(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  if (!SAFE_PATH.test(value) || !PLACES.some((place) => place.test(value))) return undefined;
  // Belt and braces: the URL parser must agree that it stays on this origin, unchanged.
  const base = 'https://latchkey.invalid';
  const resolved = new URL(value, base);
  return resolved.origin === base && resolved.pathname + resolved.search === value ? value : undefined;
}
