/** Scopes the provider itself knows; every other scope belongs to an API (resource). */
export const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;

export function isOidcScope(scope: string): boolean {
  return (OIDC_SCOPES as readonly string[]).includes(scope);
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function isScopeToken(value: string): boolean {
  return SCOPE_TOKEN.test(value);
}

export function splitScopes(value: string | string[]): string[] {
  const list = Array.isArray(value) ? value.flatMap((entry) => entry.split(/\s+/)) : value.split(/\s+/);
  return [...new Set(list.filter(Boolean))];
}
