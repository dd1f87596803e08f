export interface Permission {
  title: string;
  detail: string | null;
}

// What each OpenID Connect scope lets the application do, in the words the consent page uses.
const oidcScopeWords: Record<string, Permission> = {
  openid: { title: 'Know who you are', detail: 'Your Latchkey account identifier' },
  profile: { title: 'See your name', detail: 'Your name and when your profile last changed' },
  email: { title: 'See your email address', detail: 'And whether it has been verified' },
  offline_access: { title: 'Stay connected while you are away', detail: 'Keep access after you close the application, until you revoke it' },
};

const claimWords: Record<string, string> = {
  sub: 'your account identifier',
  name: 'your name',
  email: 'your email address',
  email_verified: 'whether your email address is verified',
  updated_at: 'when your profile last changed',
};

export function describePermissions(details: Record<string, unknown>): Permission[] {
  const permissions: Permission[] = [];
  const scopes = (details.missingOIDCScope as string[] | undefined) ?? [];
  for (const scope of scopes) {
    permissions.push(oidcScopeWords[scope] ?? { title: `Use the "${scope}" permission`, detail: null });
  }
  // Claims asked for one by one (the claims parameter) that no listed scope already covers.
  const claims = ((details.missingOIDCClaims as string[] | undefined) ?? []).filter((claim) => claimWords[claim]);
  if (claims.length > 0) {
    permissions.push({ title: 'See specific details', detail: claims.map((claim) => claimWords[claim]).join(', ') });
  }
  const resources = (details.missingResourceScopes as Record<string, string[]> | undefined) ?? {};
  for (const [resource, resourceScopes] of Object.entries(resources)) {
    for (const scope of resourceScopes) {
      permissions.push({ title: `Use "${scope}" on ${resource}`, detail: 'Access an API on your behalf' });
    }
  }
  return permissions;
}
