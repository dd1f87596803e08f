// oidc-provider's own grant helpers, which its built-in grants use and its package does not
// type: what the token exchange grant (src/oidc/token-exchange.ts) needs to bind the tokens it
// issues with DPoP exactly as the other grants do. The package has no "exports" map, so they
// are importable; oidc-provider is pinned to a minor version (package.json), and the token
// exchange tests with DPoP catch a change in them.
declare module 'oidc-provider/lib/helpers/grants.js' {
  import type { KoaContextWithOIDC, Provider } from 'oidc-provider';

  export interface DpopResult {
    thumbprint: string;
    jti: string;
    iat: number;
  }

  export function validateDpop(provider: Provider, ctx: KoaContextWithOIDC, accessToken?: string): Promise<DpopResult | undefined>;
  export function checkDpopRequired(provider: Provider, ctx: KoaContextWithOIDC, dPoP: DpopResult | undefined): void;
}

declare module 'oidc-provider/lib/helpers/grant_common.js' {
  import type { KoaContextWithOIDC, Provider } from 'oidc-provider';
  import type { DpopResult } from 'oidc-provider/lib/helpers/grants.js';

  export function applyDpopBinding(provider: Provider, ctx: KoaContextWithOIDC, dPoP: DpopResult | undefined, token: { setThumbprint(prop: 'jkt', input: string): void }): Promise<void>;
}
