/**
 * The current time as oidc-provider sees it. The provider reads Date.now(); `new Date()`
 * without arguments does not, so every expiry we compare goes through here to share one clock.
 */
export function now(): Date {
  return new Date(Date.now());
}
