import type { Page } from '../domain/pagination.js';
import { now } from '../util/clock.js';
import type { FactorCounts } from '../domain/factors/summary.js';
import type { UserGrant } from '../domain/grants.js';
import type { KeyInfo } from '../domain/keys.js';
import type { DeliveryWithAttempts } from '../domain/webhooks.js';
import type { AuditEventRow } from '../store/audit-events.js';
import type { ClientRow } from '../store/clients.js';
import type { InitialAccessTokenRow } from '../store/initial-access-tokens.js';
import type { ResourceRow } from '../store/resources.js';
import type { TokenExchangePolicyRow } from '../store/token-exchange-policies.js';
import type { UserRow } from '../store/users.js';
import type { WebhookAttemptRow, WebhookEndpointRow } from '../store/webhooks.js';

// The public JSON shapes (snake_case, like OAuth metadata) the admin API and the CLI's --json
// print. Never a hash, a secret or a token.

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

export function pageJson<T, J>(page: Page<T>, shape: (item: T) => J) {
  return { items: page.items.map(shape), next_cursor: page.nextCursor };
}

/**
 * `factors` only where one user is shown: counting them for every user of a list would cost a
 * query each.
 */
export function userJson(user: UserRow, factors?: FactorCounts) {
  return {
    id: user.id,
    email: user.email,
    email_verified: user.emailVerified,
    name: user.name,
    disabled: user.disabled,
    is_admin: user.isAdmin,
    ...(factors ? { factors: factorsJson(factors) } : {}),
    created_at: iso(user.createdAt),
    updated_at: iso(user.updatedAt),
  };
}

/** Which second factors a user has: never a secret, a key or a code. */
export function factorsJson(factors: FactorCounts) {
  return { totp: factors.totp, passkeys: factors.passkeys, recovery_codes_left: factors.recoveryCodesLeft };
}

/** What an admin's reset of a user's second factors removed. */
export function factorsResetJson(userId: string, removed: { totp: boolean; passkeys: number; recoveryCodes: number }) {
  return { user_id: userId, removed: { totp: removed.totp, passkeys: removed.passkeys, recovery_codes: removed.recoveryCodes } };
}

export function clientJson(client: ClientRow) {
  return {
    client_id: client.clientId,
    client_name: client.name,
    // Requirements that are off are not stored; the JSON says so plainly.
    require_pushed_authorization_requests: false,
    dpop_bound_access_tokens: false,
    require_signed_request_object: false,
    require_mfa: false,
    ...client.metadata,
    resources: client.resources.map((entry) => ({ identifier: entry.identifier, scope: entry.scopes.join(' ') })),
    first_party: client.firstParty,
    admin_access: client.adminAccess,
    registered_dynamically: client.registeredDynamically,
    previous_secret_expires_at: client.previousSecretHash ? iso(client.previousSecretExpiresAt) : null,
    created_at: iso(client.createdAt),
    updated_at: iso(client.updatedAt),
  };
}

export function resourceJson(resource: ResourceRow) {
  return {
    identifier: resource.identifier,
    scope: resource.scopes.join(' '),
    access_token_format: resource.accessTokenFormat,
    access_token_ttl: resource.accessTokenTtl,
    introspection_client_id: resource.introspectionClientId,
    created_at: iso(resource.createdAt),
  };
}

export function tokenExchangePolicyJson(policy: TokenExchangePolicyRow) {
  return {
    id: policy.id,
    client_id: policy.clientId,
    subject_audience: policy.subjectAudience,
    target_audience: policy.targetAudience,
    scope: policy.scopes.join(' '),
    created_at: iso(policy.createdAt),
  };
}

export function grantJson(grant: UserGrant) {
  return {
    grant_id: grant.grantId,
    user_id: grant.accountId,
    client_id: grant.clientId,
    scope: grant.scope,
    resources: grant.resources,
    created_at: iso(grant.createdAt),
    expires_at: iso(grant.expiresAt),
  };
}

export function auditEventJson(event: AuditEventRow) {
  return {
    id: event.id,
    occurred_at: iso(event.occurredAt),
    type: event.type,
    actor: { type: event.actorType, id: event.actorId },
    subject: event.subjectType ? { type: event.subjectType, id: event.subjectId } : null,
    ip: event.ip,
    outcome: event.outcome,
    details: event.details,
  };
}

export function initialAccessTokenJson(token: InitialAccessTokenRow) {
  return {
    id: token.id,
    description: token.description,
    created_by: token.createdBy,
    created_at: iso(token.createdAt),
    expires_at: iso(token.expiresAt),
    revoked_at: iso(token.revokedAt),
  };
}

/** A signing key's public facts: never key material. */
export function keyJson(key: KeyInfo) {
  return {
    kid: key.kid,
    alg: key.alg,
    state: key.state,
    created_at: iso(key.createdAt),
    activates_at: iso(key.activatesAt),
    superseded_at: iso(key.supersededAt),
    retires_at: iso(key.retiresAt),
    age_seconds: key.ageSeconds,
  };
}

/** A webhook's settings and health: never its secret, sealed or not. */
export function webhookJson(webhook: WebhookEndpointRow) {
  return {
    id: webhook.id,
    url: webhook.url,
    description: webhook.description,
    event_types: webhook.eventTypes,
    enabled: webhook.enabled,
    disabled_reason: webhook.disabledReason,
    failing_since: iso(webhook.failingSince),
    /** Until then deliveries are signed with the previous secret too. */
    previous_secret_expires_at:
      webhook.previousSealedSecret && webhook.previousSecretExpiresAt && webhook.previousSecretExpiresAt > now() ? iso(webhook.previousSecretExpiresAt) : null,
    created_at: iso(webhook.createdAt),
    updated_at: iso(webhook.updatedAt),
  };
}

function webhookAttemptJson(attempt: WebhookAttemptRow) {
  return {
    attempt: attempt.attempt,
    attempted_at: iso(attempt.attemptedAt),
    status_code: attempt.statusCode,
    latency_ms: attempt.latencyMs,
    error: attempt.error,
    succeeded: attempt.succeeded,
  };
}

export function webhookDeliveryJson(delivery: DeliveryWithAttempts) {
  return {
    id: delivery.id,
    event_id: delivery.eventId,
    event_type: delivery.eventType,
    status: delivery.status,
    attempts: delivery.attempts,
    // A settled delivery keeps the time of its last lease, which would read as a promise.
    next_attempt_at: delivery.status === 'pending' ? iso(delivery.nextAttemptAt) : null,
    last_status_code: delivery.lastStatusCode,
    last_error: delivery.lastError,
    created_at: iso(delivery.createdAt),
    completed_at: iso(delivery.completedAt),
    attempt_log: delivery.attemptLog.map(webhookAttemptJson),
  };
}
