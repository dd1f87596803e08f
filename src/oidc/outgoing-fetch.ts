import type { Configuration } from 'oidc-provider';
import type { Environment } from '../config.js';
import { isLoopbackHost } from '../domain/uris.js';

type Fetch = NonNullable<Configuration['fetch']>;

function urlOf(input: Parameters<Fetch>[0]): URL {
  return new URL(input instanceof Request ? input.url : input);
}

/**
 * The provider's own requests (logout tokens, a client's jwks_uri) go through its guard against
 * private and loopback addresses. Outside production an application on this machine may be
 * called, as the http loopback back-channel logout URIs accepted there promise.
 */
export function outgoingFetch(env: Environment): Fetch {
  return (input, init) => {
    if (env === 'production' || !init || !isLoopbackHost(urlOf(input).hostname)) return fetch(input, init);
    const { dispatcher: _guard, ...unguarded } = init as RequestInit & { dispatcher?: unknown };
    return fetch(input, unguarded);
  };
}
