import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, errors as jose, jwtVerify, type JWK } from 'jose';

/** The proof algorithms this API takes (advertised in its DPoP challenge as `algs`). */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA'];

/** How far a proof's `iat` may be from this API's clock, either way, in seconds. */
const MAX_SKEW_SECONDS = 60;

/** A DPoP proof this API refuses (RFC 9449 §7.1: `invalid_dpop_proof`); the message goes back in error_description. */
export class InvalidDPoPProof extends Error {}

export interface ProofInput {
  /** The `DPoP` request header as it arrived (undefined when there is none). */
  proof: string | undefined;
  /** The request's method and its URL as the client addressed it. */
  method: string;
  url: string;
  /** The access token from `Authorization: DPoP <token>`, exactly as sent. */
  accessToken: string;
}

const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/**
 * Checks DPoP proofs for a protected resource (RFC 9449 §4.3 and §7.1). Returns the SHA-256
 * thumbprint of the proof's key (RFC 7638), which the caller compares with the access token's
 * `cnf.jkt`: that comparison is what binds the token to whoever holds the private key.
 *
 * The jti of each accepted proof is remembered for as long as its `iat` would still be accepted,
 * so a captured proof cannot be replayed. The example keeps them in this process's memory: an
 * API run as several processes or restarted would need a shared store (Redis, its database)
 * for that, or server nonces (RFC 9449 §9), which this example does not ask for.
 */
export function dpopProofVerifier(now: () => number = Date.now) {
  /** jti → when it may be forgotten (ms); in insertion order, which is also expiry order. */
  const seen = new Map<string, number>();

  function forgetExpired(at: number) {
    for (const [jti, until] of seen) {
      if (until > at) break;
      seen.delete(jti);
    }
  }

  return async function verifyProof({ proof, method, url, accessToken }: ProofInput): Promise<string> {
    // Node joins repeated headers with ", ", which no compact JWS contains: exactly one proof.
    if (!proof) throw new InvalidDPoPProof('a DPoP-bound access token needs a DPoP proof in the DPoP header');
    if (!COMPACT_JWS.test(proof)) throw new InvalidDPoPProof('the DPoP header must hold exactly one proof, a signed JWT');

    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(proof);
    } catch {
      throw new InvalidDPoPProof('the DPoP proof is not a JWT');
    }
    if (header.typ !== 'dpop+jwt') throw new InvalidDPoPProof('the DPoP proof must have typ dpop+jwt');
    if (!header.alg || !DPOP_ALGORITHMS.includes(header.alg)) throw new InvalidDPoPProof(`the DPoP proof must be signed with ${DPOP_ALGORITHMS.join(' or ')}`);

    // Signed by the public key in its own header (EmbeddedJWK refuses a private key there).
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: DPOP_ALGORITHMS, currentDate: new Date(now()) }));
    } catch (error) {
      if (error instanceof jose.JOSEError) throw new InvalidDPoPProof('the DPoP proof is not signed by the key in its header');
      throw error;
    }

    if (payload.htm !== method) throw new InvalidDPoPProof(`the DPoP proof is for another method (htm), not ${method}`);
    if (typeof payload.htu !== 'string' || withoutQuery(payload.htu) !== withoutQuery(url)) {
      throw new InvalidDPoPProof('the DPoP proof is for another URL (htu)');
    }
    const at = now();
    if (typeof payload.iat !== 'number' || Math.abs(at / 1000 - payload.iat) > MAX_SKEW_SECONDS) {
      throw new InvalidDPoPProof(`the DPoP proof's iat is more than ${MAX_SKEW_SECONDS} seconds from now`);
    }
    if (payload.ath !== createHash('sha256').update(accessToken).digest('base64url')) {
      throw new InvalidDPoPProof('the DPoP proof is for another access token (ath)');
    }
    if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) {
      throw new InvalidDPoPProof('the DPoP proof needs a jti');
    }

    forgetExpired(at);
    if (seen.has(payload.jti)) throw new InvalidDPoPProof('the DPoP proof was used before (jti)');
    // Good until its iat is too old, which is at most 2 × the skew from now.
    seen.set(payload.jti, at + 2 * MAX_SKEW_SECONDS * 1000);

    return calculateJwkThumbprint(header.jwk as JWK, 'sha256');
  };
}

/**
 * RFC 9449 §4.3: htu is compared without query and fragment, after RFC 3986 normalization
 * (WHATWG URL parsing lower-cases scheme and host, drops a default port, resolves dot segments).
 */
function withoutQuery(value: string): string | undefined {
  const url = URL.parse(value);
  return url ? `${url.origin}${url.pathname}` : undefined;
}
