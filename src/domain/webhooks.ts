import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import {
  deleteEndpoint,
  failPendingDeliveries,
  findDelivery,
  findEndpoint,
  insertEndpoint,
  insertRedelivery,
  isDeliveryId,
  listAttempts,
  listDeliveries,
  listEndpoints,
  newEndpointId,
  updateEndpoint,
  type EndpointChanges,
  type WebhookAttemptRow,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
} from '../store/webhooks.js';
import { now } from '../util/clock.js';
import { recordAudit, type Actor } from './audit.js';
import { EVENT_TYPES, isEventType } from './events/catalog.js';
import { isCreatedKey, isString, keysetPage, type Page, type PageRequest } from './pagination.js';
import { parseInput } from './validation.js';
import { assertPublicUrl } from './webhook-addresses.js';

/** Subscribes to every event type, including types added in later versions. */
export const ALL_EVENTS = '*';

/** Stored as the URL parser writes it: what is shown is exactly what is connected to. */
const url = z
  .string({ message: 'is required' })
  .trim()
  .max(2000, { message: 'is too long' })
  .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), { message: 'must not contain control characters' })
  .refine((value) => URL.canParse(value) && ['http:', 'https:'].includes(new URL(value).protocol), { message: 'must be an http or https URL' })
  .refine((value) => !URL.canParse(value) || (!new URL(value).username && !new URL(value).password), {
    message: 'must not carry a user name or password: receivers authenticate Latchkey by its signature',
  })
  .refine((value) => !URL.canParse(value) || !new URL(value).hash, { message: 'must not have a fragment' })
  .transform((value) => new URL(value).href);

const eventTypes = z
  .array(z.string(), { message: 'must be a list of event types' })
  .min(1, { message: `must name at least one event type, or ${ALL_EVENTS} for all` })
  .max(100, { message: 'has too many entries' })
  .superRefine((values, ctx) => {
    for (const value of values) {
      if (value !== ALL_EVENTS && !isEventType(value)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value.slice(0, 60))} is not an event type; see docs/events.md` });
    }
  })
  .transform((values) => (values.includes(ALL_EVENTS) ? [ALL_EVENTS] : [...new Set(values)].sort()));

const description = z
  .string()
  .trim()
  .max(200, { message: 'is too long' })
  .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), { message: 'must not contain control characters' });

const createInput = z.object({
  url,
  description: description.default(''),
  eventTypes,
  enabled: z.boolean({ message: 'must be true or false' }).default(true),
});

const updateInput = z.object({
  url: url.optional(),
  description: description.optional(),
  eventTypes: eventTypes.optional(),
  enabled: z.boolean({ message: 'must be true or false' }).optional(),
});

export type CreateWebhookInput = z.input<typeof createInput>;
export type UpdateWebhookInput = z.input<typeof updateInput>;

export interface WebhookWithSecret {
  webhook: WebhookEndpointRow;
  /** Shown once, when created or rotated: only the sealed copy is kept. */
  secret: string;
}

function notFound(id: string): LatchkeyError {
  return new LatchkeyError('webhook.not_found', `no webhook with id ${id}`);
}

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

function secretContext(endpointId: string): string {
  return `webhook_secret:${endpointId}`;
}

/** The signing secret of an endpoint, for the delivery job. */
export function openSecret(deps: Deps, endpoint: { id: string; sealedSecret: string }): string {
  return deps.sealer.open(endpoint.sealedSecret, secretContext(endpoint.id));
}

/**
 * Production takes https only: the payload carries users' email addresses. Every URL is checked
 * against the address policy here and again at each delivery.
 */
async function assertDeliverable(deps: Deps, value: string): Promise<void> {
  const parsed = new URL(value);
  if (deps.config.env === 'production' && parsed.protocol !== 'https:') {
    throw new LatchkeyError('input.invalid', 'url: must be an https URL in production', { details: { url: 'must be an https URL in production' } });
  }
  await assertPublicUrl(parsed, deps.config.webhooks);
}

export async function createWebhook(deps: Deps, actor: Actor, input: CreateWebhookInput): Promise<WebhookWithSecret> {
  const parsed = parseInput(createInput, input);
  await assertDeliverable(deps, parsed.url);
  const id = newEndpointId();
  const secret = newSecret();
  const webhook = await deps.db.knex.transaction(async (trx) => {
    const created = await insertEndpoint(trx, {
      id,
      url: parsed.url,
      description: parsed.description,
      eventTypes: parsed.eventTypes,
      enabled: parsed.enabled,
      sealedSecret: deps.sealer.seal(secret, secretContext(id)),
      at: now(),
    });
    await recordAudit(trx, actor, {
      type: 'webhook.created',
      subject: { type: 'webhook', id },
      details: { url: created.url, event_types: created.eventTypes, enabled: created.enabled },
    });
    return created;
  });
  return { webhook, secret };
}

export async function getWebhook(deps: Deps, id: string): Promise<WebhookEndpointRow> {
  const webhook = await findEndpoint(deps.db.knex, id);
  if (!webhook) throw notFound(id);
  return webhook;
}

/** Oldest first. */
export async function listWebhooks(deps: Deps, query: PageRequest = {}): Promise<Page<WebhookEndpointRow>> {
  return keysetPage(query, isCreatedKey, (limit, after) => listEndpoints(deps.db.knex, { limit, ...(after ? { after } : {}) }), (endpoint) => endpoint.key);
}

export async function updateWebhook(deps: Deps, actor: Actor, id: string, input: UpdateWebhookInput): Promise<WebhookEndpointRow> {
  const parsed = parseInput(updateInput, input);
  // A form saved with the URL it had does not look its host up again.
  if (parsed.url !== undefined && parsed.url !== (await getWebhook(deps, id)).url) await assertDeliverable(deps, parsed.url);
  return deps.db.knex.transaction(async (trx) => {
    const current = await findEndpoint(trx, id, { forUpdate: true });
    if (!current) throw notFound(id);
    const changes: EndpointChanges = {};
    if (parsed.url !== undefined && parsed.url !== current.url) changes.url = parsed.url;
    if (parsed.description !== undefined && parsed.description !== current.description) changes.description = parsed.description;
    if (parsed.eventTypes !== undefined && parsed.eventTypes.join(' ') !== current.eventTypes.join(' ')) changes.eventTypes = parsed.eventTypes;
    if (parsed.enabled !== undefined && parsed.enabled !== current.enabled) {
      changes.enabled = parsed.enabled;
      // Switched back on by an admin: it starts with a clean record.
      if (parsed.enabled) Object.assign(changes, { disabledReason: null, failingSince: null });
    }
    // Nothing changed (a form saved as it was): no new updated_at, no audit row.
    if (Object.keys(changes).length === 0) return current;
    const updated = (await updateEndpoint(trx, id, changes, now()))!;
    if (changes.enabled === false) await failPendingDeliveries(trx, id, 'the webhook was disabled', now());
    await recordAudit(trx, actor, {
      type: 'webhook.updated',
      subject: { type: 'webhook', id },
      details: { changed: CHANGE_NAMES.filter(([field]) => field in changes).map(([, name]) => name) },
    });
    return updated;
  });
}

/** The fields an update can change, as the API names them. */
const CHANGE_NAMES: Array<[keyof EndpointChanges, string]> = [
  ['url', 'url'],
  ['description', 'description'],
  ['eventTypes', 'event_types'],
  ['enabled', 'enabled'],
];

const MAX_SECRET_GRACE = 30 * 86_400;

const rotateInput = z.object({
  graceSeconds: z
    .number({ message: 'must be a number of seconds' })
    .int({ message: 'must be a whole number of seconds' })
    .min(0, { message: 'must not be negative' })
    .max(MAX_SECRET_GRACE, { message: 'must be at most 30 days' })
    .default(0),
});

/**
 * A new signing secret, used from the next attempt. With a grace period each delivery is signed
 * with the old secret too (Standard Webhooks carries several signatures), so receivers keep
 * verifying while they switch; without one, the old secret stops at once.
 */
export async function rotateWebhookSecret(deps: Deps, actor: Actor, id: string, input: { graceSeconds?: number | undefined } = {}): Promise<WebhookWithSecret> {
  const { graceSeconds } = parseInput(rotateInput, { graceSeconds: input.graceSeconds });
  const secret = newSecret();
  const webhook = await deps.db.knex.transaction(async (trx) => {
    const current = await findEndpoint(trx, id, { forUpdate: true });
    if (!current) throw notFound(id);
    const keepPrevious = graceSeconds > 0;
    const updated = (await updateEndpoint(
      trx,
      id,
      {
        sealedSecret: deps.sealer.seal(secret, secretContext(id)),
        previousSealedSecret: keepPrevious ? current.sealedSecret : null,
        previousSecretExpiresAt: keepPrevious ? new Date(now().getTime() + graceSeconds * 1000) : null,
      },
      now(),
    ))!;
    await recordAudit(trx, actor, { type: 'webhook.secret_rotated', subject: { type: 'webhook', id }, details: { grace_seconds: graceSeconds } });
    return updated;
  });
  return { webhook, secret };
}

/** Deletes the endpoint with its delivery log; what was waiting for it is not sent. */
export async function deleteWebhook(deps: Deps, actor: Actor, id: string): Promise<void> {
  await deps.db.knex.transaction(async (trx) => {
    if (!(await deleteEndpoint(trx, id))) throw notFound(id);
    await recordAudit(trx, actor, { type: 'webhook.deleted', subject: { type: 'webhook', id } });
  });
}

export interface DeliveryWithAttempts extends WebhookDeliveryRow {
  attemptLog: WebhookAttemptRow[];
}

/** An endpoint's delivery log, newest first, each delivery with its attempts. */
export async function listWebhookDeliveries(deps: Deps, endpointId: string, query: PageRequest = {}): Promise<Page<DeliveryWithAttempts>> {
  await getWebhook(deps, endpointId);
  const page = await keysetPage(
    query,
    (value): value is string => isString(value) && isDeliveryId(value),
    (limit, before) => listDeliveries(deps.db.knex, endpointId, { limit, ...(before !== undefined ? { before } : {}) }),
    (delivery) => delivery.id,
  );
  const attempts = await listAttempts(
    deps.db.knex,
    page.items.map((delivery) => delivery.id),
  );
  return {
    nextCursor: page.nextCursor,
    items: page.items.map((delivery) => ({ ...delivery, attemptLog: attempts.filter((attempt) => attempt.deliveryId === delivery.id) })),
  };
}

/**
 * Sends an event to an endpoint again, as a new delivery with the event's own id, so a receiver
 * that already has it can tell. `endpointId`, when given, must be the delivery's endpoint.
 */
export async function redeliverWebhook(deps: Deps, actor: Actor, deliveryId: string, endpointId?: string): Promise<WebhookDeliveryRow> {
  return deps.db.knex.transaction(async (trx) => {
    const original = await findDelivery(trx, deliveryId);
    if (!original || (endpointId !== undefined && original.endpointId !== endpointId)) {
      throw new LatchkeyError('webhook.delivery_not_found', `no webhook delivery with id ${deliveryId}`);
    }
    const endpoint = await findEndpoint(trx, original.endpointId);
    if (!endpoint?.enabled) throw new LatchkeyError('input.invalid', 'the webhook is disabled: enable it before redelivering');
    const id = await insertRedelivery(trx, original.eventId, original.endpointId, now());
    await recordAudit(trx, actor, {
      type: 'webhook.redelivered',
      subject: { type: 'webhook', id: original.endpointId },
      details: { delivery_id: original.id, new_delivery_id: id, event_id: original.eventId },
    });
    return (await findDelivery(trx, id))!;
  });
}

/**
 * Switches off an endpoint that has failed without a single success for as long as a delivery
 * is retried (about a day): it is audited, shown in the console, and an admin enables it again.
 * Checked again under the row lock: a success recorded meanwhile (failing since later, or not
 * failing) keeps it on.
 */
export async function disableFailingWebhook(db: Knex, endpointId: string, failingSinceAtMost: Date, reason: string): Promise<boolean> {
  return db.transaction(async (trx) => {
    const endpoint = await findEndpoint(trx, endpointId, { forUpdate: true });
    if (!endpoint?.enabled || endpoint.failingSince === null || endpoint.failingSince > failingSinceAtMost) return false;
    await updateEndpoint(trx, endpointId, { enabled: false, disabledReason: reason }, now());
    await failPendingDeliveries(trx, endpointId, 'the webhook was disabled after failing repeatedly', now());
    await recordAudit(trx, { type: 'system', id: null, ip: null }, {
      type: 'webhook.disabled',
      outcome: 'failure',
      subject: { type: 'webhook', id: endpointId },
      details: { reason },
    });
    return true;
  });
}

/** What the console and the CLI offer to subscribe to. */
export function subscribableEventTypes(): string[] {
  return [ALL_EVENTS, ...EVENT_TYPES];
}
