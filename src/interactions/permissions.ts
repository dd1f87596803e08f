import type { MessageKey, Translate } from '../i18n/translate.js';

export interface Permission {
  title: string;
  detail: string | null;
}

// What each OpenID Connect scope lets the application do, in the words the consent page uses.
const oidcScopeWords: Record<string, { title: MessageKey; detail: MessageKey }> = {
  openid: { title: 'consent.scope.openid', detail: 'consent.scope.openid.detail' },
  profile: { title: 'consent.scope.profile', detail: 'consent.scope.profile.detail' },
  email: { title: 'consent.scope.email', detail: 'consent.scope.email.detail' },
  offline_access: { title: 'consent.scope.offline_access', detail: 'consent.scope.offline_access.detail' },
};

const claimWords: Record<string, MessageKey> = {
  sub: 'consent.claim.sub',
  name: 'consent.claim.name',
  email: 'consent.claim.email',
  email_verified: 'consent.claim.email_verified',
  updated_at: 'consent.claim.updated_at',
};

export function describePermissions(details: Record<string, unknown>, t: Translate): Permission[] {
  const permissions: Permission[] = [];
  const scopes = (details.missingOIDCScope as string[] | undefined) ?? [];
  for (const scope of scopes) {
    const words = oidcScopeWords[scope];
    permissions.push(words ? { title: t(words.title), detail: t(words.detail) } : { title: t('consent.scope.other', { scope }), detail: null });
  }
  // Claims asked for one by one (the claims parameter) that no listed scope already covers.
  const claims = ((details.missingOIDCClaims as string[] | undefined) ?? []).flatMap((claim) => claimWords[claim] ?? []);
  if (claims.length > 0) {
    permissions.push({ title: t('consent.claims'), detail: claims.map((claim) => t(claim)).join(', ') });
  }
  const resources = (details.missingResourceScopes as Record<string, string[]> | undefined) ?? {};
  for (const [resource, resourceScopes] of Object.entries(resources)) {
    for (const scope of resourceScopes) {
      permissions.push({ title: t('consent.api_scope', { scope, resource }), detail: t('consent.api_scope.detail') });
    }
  }
  return permissions;
}
