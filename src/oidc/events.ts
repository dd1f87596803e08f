import type { EventEmitter } from 'node:events';
import type Provider from 'oidc-provider';
import type { Logger } from '../log.js';

// Errors the provider answers on its own: log the kind, never the request's values.
const errorEvents = [
  'authorization.error',
  'backchannel.error',
  'jwks.error',
  'discovery.error',
  'end_session.error',
  'grant.error',
  'introspection.error',
  'revocation.error',
  'userinfo.error',
  'server_error',
] as const;

export function logProviderEvents(provider: Provider, log: Logger): void {
  // The typings declare one overload per event; a loop over names needs the plain emitter.
  const emitter = provider as unknown as EventEmitter;
  for (const event of errorEvents) {
    emitter.on(event, (ctx: { status?: number }, error: Error & { error?: string; error_description?: string; status?: number }) => {
      const status = error.status ?? ctx.status ?? 500;
      const fields = { event, error: error.error ?? error.name, description: error.error_description, status };
      if (status >= 500) log.error({ ...fields, err: error }, 'provider error');
      else log.debug(fields, 'provider rejected a request');
    });
  }
  emitter.on('grant.success', (ctx: { oidc: { params?: { grant_type?: unknown }; client?: { clientId: string } } }) => {
    log.debug({ grantType: ctx.oidc.params?.grant_type, clientId: ctx.oidc.client?.clientId }, 'token issued');
  });
}
