import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { isUuid } from '../util/uuid.js';
import { afterCreatedKey, createdKeyColumn, type CreatedKey } from './pagination.js';
import { deleteBatch, runSql } from './sql.js';

export interface WebhookEndpointRow {
  id: string;
  url: string;
  description: string;
  /** Event types, or `*` for every type (also those added later). */
  eventTypes: string[];
  enabled: boolean;
  sealedSecret: string;
  previousSealedSecret: string | null;
  previousSecretExpiresAt: Date | null;
  disabledReason: string | null;
  failingSince: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

interface EndpointColumns {
  id: string;
  url: string;
  description: string;
  event_types: string[];
  enabled: boolean;
  sealed_secret: string;
  previous_sealed_secret: string | null;
  previous_secret_expires_at: Date | string | null;
  disabled_reason: string | null;
  failing_since: Date | string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const date = (value: Date | string) => new Date(value);
const optionalDate = (value: Date | string | null) => (value === null ? null : new Date(value));

function endpointFromColumns(row: EndpointColumns): WebhookEndpointRow {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.event_types,
    enabled: row.enabled,
    sealedSecret: row.sealed_secret,
    previousSealedSecret: row.previous_sealed_secret,
    previousSecretExpiresAt: optionalDate(row.previous_secret_expires_at),
    disabledReason: row.disabled_reason,
    failingSince: optionalDate(row.failing_since),
    createdAt: date(row.created_at),
    updatedAt: date(row.updated_at),
  };
}

/** A new endpoint's id comes first: its sealed secret is bound to it. */
export function newEndpointId(): string {
  return randomUUID();
}

export async function insertEndpoint(
  db: Knex,
  endpoint: { id: string; url: string; description: string; eventTypes: string[]; enabled: boolean; sealedSecret: string; at: Date },
): Promise<WebhookEndpointRow> {
  const [row] = (await db('webhook_endpoints')
    .insert({
      id: endpoint.id,
      url: endpoint.url,
      description: endpoint.description,
      event_types: endpoint.eventTypes,
      enabled: endpoint.enabled,
      sealed_secret: endpoint.sealedSecret,
      created_at: endpoint.at,
      updated_at: endpoint.at,
    })
    .returning('*')) as EndpointColumns[];
  return endpointFromColumns(row!);
}

export async function findEndpoint(db: Knex, id: string, options: { forUpdate?: boolean } = {}): Promise<WebhookEndpointRow | undefined> {
  if (!isUuid(id)) return undefined;
  const query = db<EndpointColumns>('webhook_endpoints').where({ id }).first();
  if (options.forUpdate) query.forUpdate();
  const row = await query;
  return row ? endpointFromColumns(row) : undefined;
}

/** Oldest first: the order they were registered in. */
export async function listEndpoints(db: Knex, options: { limit: number; after?: CreatedKey }): Promise<Array<WebhookEndpointRow & { key: CreatedKey }>> {
  const query = db('webhook_endpoints')
    .select('webhook_endpoints.*', createdKeyColumn(db, 'webhook_endpoints'))
    .orderBy([{ column: 'created_at' }, { column: 'id' }])
    .limit(options.limit);
  afterCreatedKey(query, 'webhook_endpoints', 'id', options.after);
  const rows = (await query) as Array<EndpointColumns & { page_created_at: string }>;
  return rows.map((row) => ({ ...endpointFromColumns(row), key: { createdAt: row.page_created_at, id: row.id } }));
}

export interface EndpointChanges {
  url?: string;
  description?: string;
  eventTypes?: string[];
  enabled?: boolean;
  sealedSecret?: string;
  previousSealedSecret?: string | null;
  previousSecretExpiresAt?: Date | null;
  disabledReason?: string | null;
  failingSince?: Date | null;
}

export async function updateEndpoint(db: Knex, id: string, changes: EndpointChanges, at: Date): Promise<WebhookEndpointRow | undefined> {
  if (!isUuid(id)) return undefined;
  const columns: Record<string, unknown> = { updated_at: at };
  if (changes.url !== undefined) columns.url = changes.url;
  if (changes.description !== undefined) columns.description = changes.description;
  if (changes.eventTypes !== undefined) columns.event_types = changes.eventTypes;
  if (changes.enabled !== undefined) columns.enabled = changes.enabled;
  if (changes.sealedSecret !== undefined) columns.sealed_secret = changes.sealedSecret;
  if (changes.previousSealedSecret !== undefined) columns.previous_sealed_secret = changes.previousSealedSecret;
  if (changes.previousSecretExpiresAt !== undefined) columns.previous_secret_expires_at = changes.previousSecretExpiresAt;
  if (changes.disabledReason !== undefined) columns.disabled_reason = changes.disabledReason;
  if (changes.failingSince !== undefined) columns.failing_since = changes.failingSince;
  const [row] = (await db('webhook_endpoints').where({ id }).update(columns).returning('*')) as EndpointColumns[];
  return row ? endpointFromColumns(row) : undefined;
}

export async function deleteEndpoint(db: Knex, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  return (await db('webhook_endpoints').where({ id }).delete().returning('id')).length > 0;
}

/**
 * Writes an event and one pending delivery for each enabled endpoint subscribed to its type, in
 * one statement, so it joins the caller's transaction whole. With no subscriber nothing is
 * written: the outbox only holds what someone will receive.
 */
export async function insertEventWithDeliveries(
  db: Knex,
  event: { id: string; type: string; occurredAt: Date; payload: string },
): Promise<number> {
  const rows = await runSql<{ id: string }>(
    db,
    `WITH targets AS (
       SELECT id FROM webhook_endpoints WHERE enabled AND (? = ANY(event_types) OR '*' = ANY(event_types))
       -- An endpoint deleted meanwhile is waited for and skipped, never a foreign-key error in the caller's change.
       FOR KEY SHARE
     ), event AS (
       INSERT INTO webhook_events (id, type, occurred_at, payload)
       SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM targets)
       RETURNING id
     )
     INSERT INTO webhook_deliveries (event_id, endpoint_id, next_attempt_at, created_at)
     SELECT event.id, targets.id, ?, ? FROM event CROSS JOIN targets
     RETURNING id`,
    [event.type, event.id, event.type, event.occurredAt, event.payload, event.occurredAt, event.occurredAt],
  );
  return rows.length;
}

/** Whether any enabled endpoint would receive an event of `type`. */
export async function hasSubscribers(db: Knex, type: string): Promise<boolean> {
  const rows = await runSql(db, "SELECT 1 FROM webhook_endpoints WHERE enabled AND (? = ANY(event_types) OR '*' = ANY(event_types)) LIMIT 1", [type]);
  return rows.length > 0;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface WebhookDeliveryRow {
  id: string;
  eventId: string;
  eventType: string;
  endpointId: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: Date;
  completedAt: Date | null;
}

interface DeliveryColumns {
  id: string | number;
  event_id: string;
  event_type: string;
  endpoint_id: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date | string;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date | string;
  completed_at: Date | string | null;
}

function deliveryFromColumns(row: DeliveryColumns): WebhookDeliveryRow {
  return {
    id: String(row.id),
    eventId: row.event_id,
    eventType: row.event_type,
    endpointId: row.endpoint_id,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: date(row.next_attempt_at),
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    createdAt: date(row.created_at),
    completedAt: optionalDate(row.completed_at),
  };
}

const DELIVERY_COLUMNS = 'd.id, d.event_id, e.type AS event_type, d.endpoint_id, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.completed_at';

export function isDeliveryId(value: unknown): value is string {
  return typeof value === 'string' && /^\d{1,18}$/.test(value);
}

/** Newest first. */
export async function listDeliveries(db: Knex, endpointId: string, options: { limit: number; before?: string }): Promise<WebhookDeliveryRow[]> {
  if (!isUuid(endpointId)) return [];
  const bindings: Knex.Value[] = [endpointId];
  if (options.before !== undefined) bindings.push(options.before);
  bindings.push(options.limit);
  const rows = await runSql<DeliveryColumns>(
    db,
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
     WHERE d.endpoint_id = ? ${options.before !== undefined ? 'AND d.id < ?' : ''} ORDER BY d.id DESC LIMIT ?`,
    bindings,
  );
  return rows.map(deliveryFromColumns);
}

export async function findDelivery(db: Knex, id: string): Promise<WebhookDeliveryRow | undefined> {
  if (!isDeliveryId(id)) return undefined;
  const [row] = await runSql<DeliveryColumns>(db, `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE d.id = ?`, [id]);
  return row ? deliveryFromColumns(row) : undefined;
}

/** A new delivery of an event already sent (or not): same event, same id, so receivers can tell. */
export async function insertRedelivery(db: Knex, eventId: string, endpointId: string, at: Date): Promise<string> {
  const [row] = (await db('webhook_deliveries').insert({ event_id: eventId, endpoint_id: endpointId, next_attempt_at: at, created_at: at }).returning('id')) as Array<{
    id: string | number;
  }>;
  return String(row!.id);
}

export interface ClaimedDelivery {
  id: string;
  attempt: number;
  eventId: string;
  payload: string;
  endpointId: string;
  url: string;
  sealedSecret: string;
  /** Set while a rotated-out secret still signs. */
  previousSealedSecret: string | null;
}

/**
 * Takes due deliveries for one worker: the row lock with SKIP LOCKED keeps two workers off the
 * same row, and the lease (next_attempt_at moved past the attempt's timeout) keeps them off it
 * afterwards. A worker that dies mid-attempt leaves the lease to run out; the delivery is then
 * due again, with the same event id.
 */
export async function claimDueDeliveries(
  db: Knex,
  claim: { at: Date; limit: number; perEndpoint: number; leaseUntil: Date; skipEndpoints: readonly string[] },
): Promise<ClaimedDelivery[]> {
  const rows = await runSql<{ id: string | number; attempts: number; event_id: string; payload: string; endpoint_id: string; url: string; sealed_secret: string; previous_sealed_secret: string | null }>(
    db,
    // At most `perEndpoint` from each endpoint: one slow receiver cannot take every slot.
    `WITH due AS (
       SELECT d.id FROM webhook_endpoints w
       CROSS JOIN LATERAL (
         SELECT id, next_attempt_at FROM webhook_deliveries
         WHERE endpoint_id = w.id AND status = 'pending' AND next_attempt_at <= ?
         ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED
       ) d
       WHERE w.enabled AND NOT (w.id::text = ANY(string_to_array(?, ',')))
       ORDER BY d.next_attempt_at LIMIT ?
     ), claimed AS (
       UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = ?
       FROM due WHERE d.id = due.id
       RETURNING d.id, d.attempts, d.event_id, d.endpoint_id
     )
     SELECT claimed.*, e.payload, w.url, w.sealed_secret,
       CASE WHEN w.previous_secret_expires_at > ? THEN w.previous_sealed_secret END AS previous_sealed_secret
     FROM claimed JOIN webhook_events e ON e.id = claimed.event_id JOIN webhook_endpoints w ON w.id = claimed.endpoint_id`,
    [claim.at, claim.perEndpoint, claim.skipEndpoints.join(','), claim.limit, claim.leaseUntil, claim.at],
  );
  return rows.map((row) => ({
    id: String(row.id),
    attempt: row.attempts,
    eventId: row.event_id,
    payload: row.payload,
    endpointId: row.endpoint_id,
    url: row.url,
    sealedSecret: row.sealed_secret,
    previousSealedSecret: row.previous_sealed_secret,
  }));
}

/**
 * Records an attempt and settles its delivery, in one statement: done, due again at `retryAt`, or
 * given up (`retryAt` null). Only the worker holding the attempt's number writes: a worker whose
 * lease ran out and was overtaken by another changes nothing.
 */
export async function recordAttempt(db: Knex, result: WebhookAttemptRow, retryAt: Date | null): Promise<boolean> {
  const status: DeliveryStatus = result.succeeded ? 'succeeded' : retryAt === null ? 'failed' : 'pending';
  const rows = await runSql(
    db,
    `WITH settled AS (
       UPDATE webhook_deliveries
       SET status = ?, last_status_code = ?, last_error = ?,
         next_attempt_at = COALESCE(?, next_attempt_at), completed_at = ?
       WHERE id = ? AND attempts = ? AND status = 'pending'
       RETURNING id
     )
     INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, status_code, latency_ms, error, succeeded)
     SELECT id, ?, ?, ?, ?, ?, ? FROM settled
     RETURNING id`,
    [
      status,
      result.statusCode,
      result.error,
      status === 'pending' ? retryAt : null,
      status === 'pending' ? null : result.attemptedAt,
      result.deliveryId,
      result.attempt,
      result.attempt,
      result.attemptedAt,
      result.statusCode,
      result.latencyMs,
      result.error,
      result.succeeded,
    ],
  );
  return rows.length > 0;
}

export interface WebhookAttemptRow {
  deliveryId: string;
  attempt: number;
  attemptedAt: Date;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  succeeded: boolean;
}

/** The attempts of the given deliveries, first attempt first. */
export async function listAttempts(db: Knex, deliveryIds: string[]): Promise<WebhookAttemptRow[]> {
  if (deliveryIds.length === 0) return [];
  const rows = (await db('webhook_attempts').whereIn('delivery_id', deliveryIds).orderBy('id')) as Array<{
    delivery_id: string | number;
    attempt: number;
    attempted_at: Date | string;
    status_code: number | null;
    latency_ms: number;
    error: string | null;
    succeeded: boolean;
  }>;
  return rows.map((row) => ({
    deliveryId: String(row.delivery_id),
    attempt: row.attempt,
    attemptedAt: date(row.attempted_at),
    statusCode: row.status_code,
    latencyMs: row.latency_ms,
    error: row.error,
    succeeded: row.succeeded,
  }));
}

/** An endpoint switched off stops receiving: what was still waiting for it is given up, and can be redelivered. */
export async function failPendingDeliveries(db: Knex, endpointId: string, reason: string, at: Date): Promise<number> {
  const rows = await db('webhook_deliveries')
    .where({ endpoint_id: endpointId, status: 'pending' })
    .update({ status: 'failed', last_error: reason, completed_at: at })
    .returning('id');
  return rows.length;
}

/**
 * Keeps an endpoint's record of failing: cleared by a success, started by the first failure
 * after one. Returns since when it has been failing (null when it is not). Writes only when the
 * record changes, so a healthy endpoint's row is not locked by every delivery.
 */
export async function updateEndpointHealth(db: Knex, endpointId: string, succeeded: boolean, at: Date): Promise<Date | null> {
  if (succeeded) {
    await db('webhook_endpoints').where({ id: endpointId }).whereNotNull('failing_since').update({ failing_since: null });
    return null;
  }
  const [started] = (await db('webhook_endpoints').where({ id: endpointId }).whereNull('failing_since').update({ failing_since: at }).returning('failing_since')) as Array<{
    failing_since: Date | string;
  }>;
  if (started) return date(started.failing_since);
  const row = (await db('webhook_endpoints').where({ id: endpointId }).first('failing_since')) as { failing_since: Date | string | null } | undefined;
  return row?.failing_since ? date(row.failing_since) : null;
}

/** When a delivery was first attempted: how long its endpoint has been failing is measured from there. */
export async function firstAttemptAt(db: Knex, deliveryId: string): Promise<Date | undefined> {
  const row = (await db('webhook_attempts').where({ delivery_id: deliveryId }).min({ first: 'attempted_at' }).first()) as { first: Date | string | null } | undefined;
  return row?.first ? date(row.first) : undefined;
}

/** Events older than `before`, with their deliveries and attempts, in bounded batches. */
export async function deleteOldEvents(db: Knex, before: Date, batch: number): Promise<number> {
  return deleteBatch(
    db,
    'webhook_events',
    'id',
    (query) =>
      query
        .where('occurred_at', '<', before)
        .whereNotExists((pending) => pending.select(db.raw('1')).from('webhook_deliveries').whereRaw('webhook_deliveries.event_id = webhook_events.id').andWhere('status', 'pending')),
    batch,
  );
}
