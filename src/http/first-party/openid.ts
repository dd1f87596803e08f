import * as oidc from 'openid-client';
import type { Config } from '../../config.js';
import { postLogoutUriOf, redirectUriOf, type BuiltInClientId } from '../../domain/first-party-clients.js';
import type { Provider } from '../../oidc/provider.js';

/** What an application keeps between sending the browser to sign in and the callback. */
export interface PendingSignIn {
  codeVerifier: string;
  state: string;
  nonce: string;
  /** The page to return to. */
  next: string;
}

export interface FirstPartyOpenId {
  start(next: string): Promise<{ url: URL; pending: PendingSignIn }>;
  /** Redeems the code; `query` is the callback's query string. Returns the access token. */
  finish(query: string, pending: PendingSignIn): Promise<string>;
  revoke(accessToken: string): Promise<void>;
  endSessionUrl(): URL;
}

/** What a built-in application asks for when it signs someone in. */
export interface SignInRequest {
  clientId: BuiltInClientId;
  scope: string;
  /** The API its access token is for (RFC 8707), if not only the userinfo endpoint. */
  resource?: string;
}

/**
 * Latchkey's own applications (admin console, account page) are OpenID Connect clients of
 * their own server. Their back-channel calls (token, revocation, JWKS) go to this very process
 * over loopback: the public issuer may not be reachable from inside the deployment. The URLs
 * they validate and the tokens' `iss` stay the issuer's.
 */
export function firstPartyOpenId(config: Config, provider: () => Provider, request: SignInRequest): FirstPartyOpenId {
  const configurations = new WeakMap<Provider, oidc.Configuration>();
  const redirectUri = redirectUriOf(config, request.clientId);
  const resource = request.resource !== undefined ? { resource: request.resource } : {};
  const loopback: oidc.CustomFetch = (url, options) => {
    const target = new URL(url);
    return fetch(`http://127.0.0.1:${config.http.port}${target.pathname}${target.search}`, options as RequestInit);
  };

  // One per provider: a key change builds a new provider, and with it a fresh JWKS cache.
  function configuration(): oidc.Configuration {
    const current = provider();
    let found = configurations.get(current);
    if (!found) {
      found = new oidc.Configuration(
        {
          issuer: config.http.issuer,
          authorization_endpoint: current.urlFor('authorization'),
          token_endpoint: current.urlFor('token'),
          revocation_endpoint: current.urlFor('revocation'),
          end_session_endpoint: current.urlFor('end_session'),
          jwks_uri: current.urlFor('jwks'),
        },
        request.clientId,
        undefined,
        oidc.None(),
      );
      found[oidc.customFetch] = loopback;
      // Development issuers are http; production ones are https (assertServable).
      if (config.http.issuer.startsWith('http:')) oidc.allowInsecureRequests(found);
      configurations.set(current, found);
    }
    return found;
  }

  return {
    async start(next) {
      const pending = { codeVerifier: oidc.randomPKCECodeVerifier(), state: oidc.randomState(), nonce: oidc.randomNonce(), next };
      const url = oidc.buildAuthorizationUrl(configuration(), {
        redirect_uri: redirectUri,
        scope: request.scope,
        ...resource,
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
        code_challenge_method: 'S256',
        state: pending.state,
        nonce: pending.nonce,
      });
      return { url, pending };
    },
    async finish(query, pending) {
      const callback = new URL(redirectUri);
      callback.search = query;
      const checks = { pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true };
      // The token endpoint binds the access token to an API only when asked for it again (RFC 8707 §2.2).
      const tokens = await oidc.authorizationCodeGrant(configuration(), callback, checks, resource);
      return tokens.access_token;
    },
    async revoke(accessToken) {
      await oidc.tokenRevocation(configuration(), accessToken, { token_type_hint: 'access_token' });
    },
    endSessionUrl() {
      return oidc.buildEndSessionUrl(configuration(), { client_id: request.clientId, post_logout_redirect_uri: postLogoutUriOf(config, request.clientId) });
    },
  };
}
