import os from 'node:os';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { insertAuditEvent, listAuditEvents as selectAuditEvents, type AuditEventRow } from '../store/audit-events.js';
import { now } from '../util/clock.js';
import { isString, keysetPage, type Page, type PageRequest } from './pagination.js';
import { parseInput } from './validation.js';

/** Who did something: a signed-in user, a client with its own token, the CLI's OS user, or nobody known. */
export interface Actor {
  type: 'user' | 'client' | 'cli' | 'initial_access_token' | 'anonymous' | 'system';
  id: string | null;
  ip: string | null;
}

export const AUDIT_EVENT_TYPES = [
  'user.signed_in',
  'user.sign_in_failed',
  'user.created',
  'user.updated',
  'user.password_changed',
  'user.disabled',
  'user.enabled',
  'user.deleted',
  'user.signed_up',
  'user.email_verified',
  'user.email_changed',
  'user.password_reset_requested',
  'user.locked_out',
  'user.imported',
  'user.session_ended',
  'client.auth_failed',
  'grant.created',
  'grant.revoked',
  'token.revoked',
  'client.created',
  'client.updated',
  'client.deleted',
  'client.secret_rotated',
  'resource.created',
  'resource.updated',
  'resource.deleted',
  'initial_access_token.created',
  'initial_access_token.revoked',
  'keys.rotated',
  'admin.access_denied',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.secret_rotated',
  'webhook.redelivered',
  'webhook.disabled',
  'token_exchange_policy.created',
  'token_exchange_policy.deleted',
  'user.factor_added',
  'user.factor_removed',
  'user.factors_reset',
  'user.second_factor_failed',
  'user.recovery_code_used',
  'user.recovery_codes_issued',
  'user.identity_linked',
  'user.identity_unlinked',
  'upstream.sign_in_failed',
  'upstream_provider.created',
  'upstream_provider.updated',
  'upstream_provider.deleted',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export interface AuditEntry {
  type: AuditEventType;
  subject?: { type: 'user' | 'client' | 'resource' | 'grant' | 'initial_access_token' | 'token' | 'session' | 'webhook' | 'token_exchange_policy' | 'upstream_provider'; id: string };
  outcome?: 'success' | 'failure';
  /** Public facts only (field names changed, scopes, reasons): never a secret, token, code or password. */
  details?: Record<string, unknown>;
}

/** The CLI acts as the operating-system user running it; only that user can reach the data. */
export function cliActor(): Actor {
  let name: string | null = null;
  try {
    name = os.userInfo().username;
  } catch {
    // No passwd entry (some containers): the action is still recorded, without a name.
  }
  return { type: 'cli', id: name, ip: null };
}

/** Records one event; pass the transaction of the change so both commit or neither does. */
export async function recordAudit(db: Knex, actor: Actor, entry: AuditEntry): Promise<void> {
  await insertAuditEvent(db, {
    occurredAt: now(),
    type: entry.type,
    actorType: actor.type,
    actorId: actor.id,
    subjectType: entry.subject?.type ?? null,
    subjectId: entry.subject?.id ?? null,
    ip: actor.ip,
    outcome: entry.outcome ?? 'success',
    details: entry.details ?? {},
  });
}

const auditFilter = z.object({
  type: z.enum(AUDIT_EVENT_TYPES, { message: 'is not an audit event type' }).optional(),
  actorId: z.string().min(1).max(500).optional(),
  subjectId: z.string().min(1).max(500).optional(),
  from: z.coerce.date({ message: 'must be a date and time (ISO 8601)' }).optional(),
  to: z.coerce.date({ message: 'must be a date and time (ISO 8601)' }).optional(),
});

export type AuditQuery = z.input<typeof auditFilter> & PageRequest;

/** Newest first. */
export async function listAuditEvents(deps: Deps, query: AuditQuery = {}): Promise<Page<AuditEventRow>> {
  const filter = parseInput(auditFilter, { type: query.type, actorId: query.actorId, subjectId: query.subjectId, from: query.from, to: query.to });
  return keysetPage(
    query,
    (value): value is string => isString(value) && /^\d+$/.test(value),
    (limit, before) =>
      selectAuditEvents(deps.db.knex, {
        limit,
        ...(before !== undefined ? { before } : {}),
        ...(filter.type ? { type: filter.type } : {}),
        ...(filter.actorId ? { actorId: filter.actorId } : {}),
        ...(filter.subjectId ? { subjectId: filter.subjectId } : {}),
        ...(filter.from ? { from: filter.from } : {}),
        ...(filter.to ? { to: filter.to } : {}),
      }),
    (event) => event.id,
  );
}
