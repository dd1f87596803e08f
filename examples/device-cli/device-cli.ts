import { calculateJwkThumbprint, exportJWK } from 'jose';
import * as oidc from 'openid-client';

export interface DeviceCliOptions {
  /** Latchkey's issuer URL, e.g. http://localhost:3000. */
  issuer: string;
  /** The device client: public, with the device code grant (`latchkey clients create --public --grant ...`). */
  clientId: string;
  /** Space-separated; must include openid. */
  scope: string;
}

export interface DeviceCliIo {
  /** Where the instructions and the result are written (process.stdout in the terminal). */
  output: { write(text: string): unknown };
  /** Aborting it stops the polling (Ctrl-C in the terminal). */
  signal?: AbortSignal;
}

export interface DeviceSignIn {
  /** The ID token's claims: who signed in. */
  claims: oidc.IDToken;
  /** What Latchkey's userinfo endpoint answered, called with the DPoP-bound access token. */
  userinfo: oidc.UserInfoResponse;
  /** The token_type as openid-client gives it: `dpop` when the access token is bound to this run's key. */
  tokenType: string;
  /** The SHA-256 thumbprint of the DPoP public key (RFC 7638): the tokens' `cnf.jkt`. */
  jkt: string;
  /** Whether Latchkey issued a refresh token (scope offline_access); it is bound to the same key. */
  refreshToken: boolean;
}

/** A sign-in that did not happen, with a message for the person at the terminal. */
export class DeviceSignInError extends Error {}

/**
 * Signs a user in from a terminal with the device authorization grant (RFC 8628): asks Latchkey
 * for a code, tells the user where to enter it, polls the token endpoint until they have signed
 * in and approved on another device, then shows who signed in and what userinfo says.
 *
 * Every token request carries a DPoP proof (RFC 9449), so the access and refresh tokens are
 * bound to a key pair that never leaves this process: a copied token is useless without it.
 */
export async function signInOnDevice(options: DeviceCliOptions, io: DeviceCliIo): Promise<DeviceSignIn> {
  const say = (line: string) => io.output.write(`${line}\n`);
  const issuer = new URL(options.issuer);

  // A device has no secret to keep: the client is public (token_endpoint_auth_method none).
  const config = await oidc
    .discovery(
      issuer,
      options.clientId,
      undefined,
      oidc.None(),
      // openid-client refuses plain http unless told: an http ISSUER is for local development.
      issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined,
    )
    .catch((error: unknown) => {
      throw new DeviceSignInError(`could not read Latchkey's discovery document at ${issuer.href}: ${(error as Error).message}`, { cause: error });
    });
  if (!config.serverMetadata().device_authorization_endpoint) {
    throw new DeviceSignInError(`${options.issuer} does not offer the device flow (no device_authorization_endpoint)`);
  }

  // One key pair for this run. A CLI that keeps its refresh token for next time must keep this
  // key with it (the refresh token is bound to it too), as safely as the token itself.
  const keys = await oidc.randomDPoPKeyPair('ES256');
  const dpop = oidc.getDPoPHandle(config, keys);
  const jkt = await calculateJwkThumbprint(await exportJWK(keys.publicKey));

  const device = await oidc.initiateDeviceAuthorization(config, { scope: options.scope }).catch((error: unknown) => {
    throw new DeviceSignInError(`Latchkey did not start the sign-in: ${describe(error)}`, { cause: error });
  });
  say(`Open ${device.verification_uri} and enter ${device.user_code}`);
  if (device.verification_uri_complete) say(`(or open ${device.verification_uri_complete}, which fills in the code)`);
  say(`Waiting for you to sign in there; the code is good for ${Math.round(device.expires_in / 60)} minutes...`);

  // openid-client waits `interval` seconds (5 unless Latchkey says otherwise) between polls,
  // slows down when told to, retries once with the server's DPoP nonce, and stops when the
  // code expires or `signal` aborts. It looks at the signal only every few seconds, so an
  // abort (Ctrl-C) is also raced here, to stop at once.
  const expiry = AbortSignal.timeout(device.expires_in * 1000);
  const signal = io.signal ? AbortSignal.any([io.signal, expiry]) : expiry;
  let tokens: Awaited<ReturnType<typeof oidc.pollDeviceAuthorizationGrant>>;
  try {
    const polling = oidc.pollDeviceAuthorizationGrant(config, device, undefined, { DPoP: dpop, signal });
    polling.catch(() => {}); // when the race below is lost to an abort, it still ends, rejected
    tokens = await Promise.race([polling, aborted(io.signal)]);
  } catch (error) {
    if (io.signal?.aborted) throw new DeviceSignInError('Sign-in cancelled.', { cause: error });
    throw new DeviceSignInError(pollingProblem(error, expiry.aborted), { cause: error });
  }

  // openid-client has checked the ID token (signature, iss, aud, exp) on the way in.
  const claims = tokens.claims();
  if (!claims) throw new DeviceSignInError('Latchkey issued no ID token: ask for the openid scope');

  // The access token is DPoP-bound: userinfo wants a fresh proof with it (the handle makes one,
  // with the nonce Latchkey asks for). openid-client checks its sub is the ID token's.
  const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP: dpop }).catch((error: unknown) => {
    throw new DeviceSignInError(`signed in, but userinfo refused the access token: ${describe(error)}`, { cause: error });
  });

  // An ID token from the token endpoint carries the profile and email claims only when the
  // provider is configured to put them there; Latchkey's leaves them to userinfo.
  const email = claims.email ?? userinfo.email;
  say(`Signed in as ${typeof email === 'string' ? email : '(no email: ask for the email scope)'} (sub ${claims.sub})`);
  say(`ID token: ${JSON.stringify({ iss: claims.iss, sub: claims.sub, aud: claims.aud, auth_time: claims.auth_time, ...(claims.email ? { email: claims.email } : {}) })}`);
  // openid-client gives the token_type in lower case.
  const bound = tokens.token_type.toLowerCase() === 'dpop';
  say(`Access token: ${bound ? `DPoP, bound to key ${jkt}` : `${tokens.token_type} (not sender-constrained)`}`);
  if (tokens.refresh_token) say('Refresh token: issued, bound to the same key');
  say(`Userinfo: ${JSON.stringify(userinfo)}`);

  return { claims, userinfo, tokenType: tokens.token_type, jkt, refreshToken: Boolean(tokens.refresh_token) };
}

/** Rejects when `signal` aborts; never settles without one. */
function aborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (!signal) return;
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** Why polling ended without tokens, in words for the terminal (RFC 8628 §3.5). */
function pollingProblem(error: unknown, expired: boolean): string {
  const code = (error as { error?: unknown }).error;
  if (code === 'access_denied') return 'The sign-in was cancelled on the other device.';
  if (code === 'expired_token' || expired) return 'The code expired before it was used. Run this again for a new one.';
  return `Sign-in failed: ${describe(error)}`;
}

function describe(error: unknown): string {
  const { error: code, error_description: description } = error as { error?: unknown; error_description?: unknown };
  if (typeof code === 'string') return typeof description === 'string' ? `${code}: ${description}` : code;
  return (error as Error).message;
}
