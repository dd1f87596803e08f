import type { Knex } from 'knex';
import { deleteBatch, isStorableKey } from './sql.js';

export interface AuditEventRow {
  /** A bigint, as a string so it survives JSON. */
  id: string;
  occurredAt: Date;
  type: string;
  actorType: string;
  actorId: string | null;
  subjectType: string | null;
  subjectId: string | null;
  ip: string | null;
  outcome: 'success' | 'failure';
  details: Record<string, unknown>;
}

interface AuditEventColumns {
  id: string | number;
  occurred_at: Date | string;
  type: string;
  actor_type: string;
  actor_id: string | null;
  subject_type: string | null;
  subject_id: string | null;
  ip: string | null;
  outcome: 'success' | 'failure';
  details: Record<string, unknown> | string;
}

export type NewAuditEvent = Omit<AuditEventRow, 'id' | 'occurredAt'> & { occurredAt: Date };

function fromColumns(row: AuditEventColumns): AuditEventRow {
  return {
    id: String(row.id),
    occurredAt: new Date(row.occurred_at),
    type: row.type,
    actorType: row.actor_type,
    actorId: row.actor_id,
    subjectType: row.subject_type,
    subjectId: row.subject_id,
    ip: row.ip,
    outcome: row.outcome,
    details: typeof row.details === 'string' ? (JSON.parse(row.details) as Record<string, unknown>) : row.details,
  };
}

export async function insertAuditEvent(db: Knex, event: NewAuditEvent): Promise<void> {
  await db('audit_events').insert({
    occurred_at: event.occurredAt,
    type: event.type,
    actor_type: event.actorType,
    actor_id: event.actorId,
    subject_type: event.subjectType,
    subject_id: event.subjectId,
    ip: event.ip,
    outcome: event.outcome,
    // Details can quote what a request sent; PostgreSQL's jsonb cannot hold a NUL character.
    details: JSON.stringify(event.details, (_key, value: unknown) => (typeof value === 'string' ? value.replaceAll('\0', '') : value)),
  });
}

export interface AuditFilter {
  limit: number;
  /** The id of the last event of the previous page; pages run newest first. */
  before?: string;
  type?: string;
  actorId?: string;
  subjectId?: string;
  from?: Date;
  to?: Date;
}

export async function listAuditEvents(db: Knex, filter: AuditFilter): Promise<AuditEventRow[]> {
  for (const value of [filter.type, filter.actorId, filter.subjectId]) if (value !== undefined && !isStorableKey(value)) return [];
  const query = db<AuditEventColumns>('audit_events').orderBy('id', 'desc').limit(filter.limit);
  if (filter.before !== undefined) query.where('id', '<', filter.before);
  if (filter.type !== undefined) query.where('type', filter.type);
  if (filter.actorId !== undefined) query.where('actor_id', filter.actorId);
  if (filter.subjectId !== undefined) query.where('subject_id', filter.subjectId);
  if (filter.from !== undefined) query.where('occurred_at', '>=', filter.from);
  if (filter.to !== undefined) query.where('occurred_at', '<', filter.to);
  return (await query).map(fromColumns);
}

export async function deleteAuditEventsBefore(db: Knex, before: Date, batch: number): Promise<number> {
  return deleteBatch(db, 'audit_events', 'id', (query) => query.where('occurred_at', '<', before).orderBy('id'), batch);
}
