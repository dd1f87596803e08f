import type { EventEmitter } from 'node:events';
import Provider from 'oidc-provider';
import { unavailableReason } from '../db/unavailable.js';
import type { Deps } from '../deps.js';
import { recordAudit } from '../domain/audit.js';
import { sha256 } from '../util/digest.js';

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
  'registration_create.error',
  'registration_read.error',
  'registration_update.error',
  'registration_delete.error',
  'userinfo.error',
  'server_error',
] as const;

// v9 emits no revocation event of its own: a revoked token is one destroyed by the revocation endpoint.
const revocableTokenEvents = ['access_token.destroyed', 'client_credentials.destroyed', 'refresh_token.destroyed'] as const;

interface DestroyedToken {
  jti: string;
  kind: string;
}

/** RFC 7009 revocations go to the audit log, naming the token by its stored digest, never its value. */
function auditRevocations(emitter: EventEmitter, deps: Deps): void {
  for (const event of revocableTokenEvents) {
    emitter.on(event, (token: DestroyedToken) => {
      const ctx = Provider.ctx;
      const clientId = ctx?.oidc.client?.clientId;
      if (ctx?.oidc.route !== 'revocation' || !clientId) return;
      const actor = { type: 'client' as const, id: clientId, ip: ctx.ip };
      recordAudit(deps.db.knex, actor, { type: 'token.revoked', subject: { type: 'token', id: sha256(token.jti) }, details: { kind: token.kind } }).catch(
        (error: unknown) => deps.log.error({ err: error, event }, 'could not record a token revocation'),
      );
    });
  }
}

export function logProviderEvents(provider: Provider, deps: Deps): void {
  const { log } = deps;
  // The typings declare one overload per event; a loop over names needs the plain emitter.
  const emitter = provider as unknown as EventEmitter;
  for (const event of errorEvents) {
    emitter.on(event, (ctx: { status?: number }, error: Error & { error?: string; error_description?: string; status?: number }) => {
      const status = error.status ?? ctx.status ?? 500;
      const fields = { event, error: error.error ?? error.name, description: error.error_description, status };
      // An outage answers every request with a 503 (oidc/unavailable.ts): a warning each, not a stack trace each.
      const reason = status === 503 ? unavailableReason(error) : undefined;
      if (reason !== undefined) log.warn({ ...fields, reason }, 'the database did not answer');
      else if (status >= 500) log.error({ ...fields, err: error }, 'provider error');
      else log.debug(fields, 'provider rejected a request');
    });
  }
  emitter.on('grant.success', (ctx: { oidc: { params?: { grant_type?: unknown }; client?: { clientId: string } } }) => {
    log.debug({ grantType: ctx.oidc.params?.grant_type, clientId: ctx.oidc.client?.clientId }, 'token issued');
  });
  auditRevocations(emitter, deps);
}
