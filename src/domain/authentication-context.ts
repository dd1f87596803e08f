// How strongly a sign-in was proven, in the words ID tokens use: `amr` lists the methods
// (RFC 8176), `acr` names the level. Clients ask for a level with acr_values (or an essential
// acr claim); admins can require it of a client with require_mfa.

/** One factor: a password, or an upstream provider's word. */
export const ACR_SINGLE_FACTOR = 'urn:latchkey:acr:single-factor';
/** Two factors: a password and a code or key, or a passkey with user verification. */
export const ACR_MULTI_FACTOR = 'urn:latchkey:acr:mfa';
/** OpenID PAPE's name for multi-factor, which clients written for other servers send. */
export const ACR_PAPE_MULTI_FACTOR = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor';

export const ACR_VALUES = [ACR_SINGLE_FACTOR, ACR_MULTI_FACTOR, ACR_PAPE_MULTI_FACTOR] as const;

const MULTI_FACTOR_VALUES: ReadonlySet<string> = new Set([ACR_MULTI_FACTOR, ACR_PAPE_MULTI_FACTOR]);

/** The second factors, as amr values: a one-time code (app or recovery code), a hardware-bound or synced key. */
export type SecondFactorMethod = 'otp' | 'hwk' | 'swk';

/** What the authorization request asked for: acr_values and the claims parameter's acr. */
export interface AcrRequest {
  acr_values?: unknown;
  claims?: unknown;
}

function requestedValues(params: AcrRequest): { values: string[]; essential: boolean } {
  const voluntary = typeof params.acr_values === 'string' ? params.acr_values.split(' ').filter(Boolean) : [];
  let claims: unknown = params.claims;
  if (typeof claims === 'string') {
    try {
      claims = JSON.parse(claims);
    } catch {
      claims = undefined;
    }
  }
  const acr = (claims as { id_token?: { acr?: { essential?: boolean; value?: unknown; values?: unknown } } } | undefined)?.id_token?.acr;
  if (acr?.essential) {
    const values = Array.isArray(acr.values) ? acr.values.filter((value): value is string => typeof value === 'string') : typeof acr.value === 'string' ? [acr.value] : [];
    if (values.length > 0) return { values, essential: true };
  }
  return { values: voluntary, essential: false };
}

/**
 * Whether this sign-in must be multi-factor: the client was registered with require_mfa, or
 * every level the request names is a multi-factor one (a request that also accepts one factor
 * does not force a second).
 */
export function requiresMultiFactor(params: AcrRequest, clientMetadata: Record<string, unknown> | undefined): boolean {
  if (clientMetadata?.require_mfa === true) return true;
  const { values } = requestedValues(params);
  return values.length > 0 && values.every((value) => MULTI_FACTOR_VALUES.has(value));
}

export function isMultiFactorAcr(acr: unknown): boolean {
  return typeof acr === 'string' && MULTI_FACTOR_VALUES.has(acr);
}

/** The acr to put in the ID token: the request's own name for the level reached, when it used one. */
export function acrFor(multiFactor: boolean, params: AcrRequest): string {
  if (!multiFactor) return ACR_SINGLE_FACTOR;
  const asked = requestedValues(params).values.find((value) => MULTI_FACTOR_VALUES.has(value));
  return asked ?? ACR_MULTI_FACTOR;
}

/** amr for a primary proof followed by a second factor: both methods, and `mfa`. */
export function combinedAmr(primary: readonly string[], second: SecondFactorMethod): string[] {
  return [...new Set([...primary, second, 'mfa'])];
}
