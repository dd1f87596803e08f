import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { hasSubscribers, insertEventWithDeliveries } from '../../store/webhooks.js';
import { now } from '../../util/clock.js';
import { EVENT_CATALOG, type EventData, type EventType } from './catalog.js';

export interface EventPayload {
  /** Unique per event, and the same on every delivery of it: receivers de-duplicate on it. */
  id: string;
  type: EventType;
  timestamp: string;
  data: Record<string, unknown>;
}

/** Standard Webhooks message ids; the prefix tells a Latchkey event id from other ids in logs. */
function newEventId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`;
}

/**
 * Puts an event in the webhook outbox. Pass the transaction of the change that caused it: the
 * event commits with the change, or neither does. Returns how many deliveries it queued.
 */
export async function emitEvent<T extends EventType>(db: Knex, type: T, data: EventData<T>): Promise<number> {
  const occurredAt = now();
  const payload: EventPayload = {
    id: newEventId(),
    type,
    timestamp: occurredAt.toISOString(),
    data: EVENT_CATALOG[type].data.parse(data) as Record<string, unknown>,
  };
  return insertEventWithDeliveries(db, { id: payload.id, type, occurredAt, payload: JSON.stringify(payload) });
}

/**
 * Many events of one type in one transaction (an import): asks once whether anyone subscribes,
 * so a bulk change without subscribers costs one statement, not one per event.
 */
export async function emitEvents<T extends EventType>(db: Knex, type: T, data: Array<EventData<T>>): Promise<void> {
  if (data.length === 0 || !(await hasSubscribers(db, type))) return;
  for (const item of data) await emitEvent(db, type, item);
}
