import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { isEventType, type EventType } from '../../domain/events/catalog.js';
import {
  ALL_EVENTS,
  createWebhook,
  deleteWebhook,
  getWebhook,
  listWebhookDeliveries,
  listWebhooks,
  redeliverWebhook,
  rotateWebhookSecret,
  subscribableEventTypes,
  updateWebhook,
} from '../../domain/webhooks.js';
import { LatchkeyError } from '../../errors.js';
import { checked, checkedValues, formBody, optional, seconds, text, type FormBody, type FormProblem } from '../../http/forms.js';
import type { MessageKey } from '../../i18n/translate.js';
import type { WebhookEndpointRow } from '../../store/webhooks.js';
import { principal, SECRET_GRACE_CHOICES, type ConsoleKit } from './kit.js';

/** What the webhook form shows: every field as stored, or as the admin typed it. */
interface WebhookFormValues {
  url: string;
  description: string;
  eventTypes: string[];
  enabled: boolean;
}

const storedValues = (webhook: WebhookEndpointRow): WebhookFormValues => ({
  url: webhook.url,
  description: webhook.description,
  eventTypes: webhook.eventTypes,
  enabled: webhook.enabled,
});

const submittedValues = (body: FormBody): WebhookFormValues => ({
  url: text(body, 'url'),
  description: text(body, 'description'),
  eventTypes: checkedValues(body, 'eventTypes'),
  enabled: checked(body, 'enabled'),
});

/** Each event type's description, in the admin's language (the catalog's are English, for docs/events.md). */
function describe(type: EventType): MessageKey {
  return `admin.webhooks.event.${type}` as const satisfies MessageKey;
}

/** The checkboxes of the event types: all events first, then each type with what it means. */
const EVENT_CHOICES = subscribableEventTypes().map((type) => ({
  value: type,
  all: type === ALL_EVENTS,
  description: isEventType(type) ? describe(type) : null,
}));

/**
 * Where a webhook stands: sending, sending but failing, switched off by an admin, or switched
 * off by Latchkey because every delivery failed for as long as it retries (disabledReason says why).
 */
export type WebhookStatus = 'enabled' | 'failing' | 'disabled' | 'switched_off';

export function statusOf(webhook: WebhookEndpointRow): WebhookStatus {
  if (!webhook.enabled) return webhook.disabledReason ? 'switched_off' : 'disabled';
  return webhook.failingSince ? 'failing' : 'enabled';
}

/** Date and time to the second, in UTC, as the console's logs show them. */
const time = (date: Date) => date.toISOString().slice(0, 19).replace('T', ' ');

/**
 * An address the delivery policy refuses is a problem of the URL field: shown beside it, with
 * the form's usual "see the fields below" on top.
 */
async function urlChecked<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof LatchkeyError && (error.code === 'webhook.address_refused' || error.code === 'webhook.unresolvable')) {
      throw new LatchkeyError(error.code, `url: ${error.message}`, { details: { url: error.message }, cause: error });
    }
    throw error;
  }
}

const DELIVERIES_PER_PAGE = 20;

export function webhookRoutes(router: Router, kit: ConsoleKit): void {
  const { deps, guard } = kit;
  const path = (id: string) => `/admin/webhooks/${encodeURIComponent(id)}`;
  const named = (webhook: WebhookEndpointRow) => ({ key: 'admin.named', params: { name: webhook.url } }) as const;

  const showNew = (ctx: Context, values: WebhookFormValues | null, problem: FormProblem | null) =>
    kit.page(ctx, 'webhooks', 'new', 'admin.webhooks.new', { values, problem, eventChoices: EVENT_CHOICES });

  const showEdit = (ctx: Context, webhook: WebhookEndpointRow, values: WebhookFormValues, problem: FormProblem | null) =>
    kit.page(ctx, 'webhooks', 'edit', named(webhook), { webhook, values, problem, eventChoices: EVENT_CHOICES, status: statusOf(webhook), time });

  const showSecret = (ctx: Context, webhook: WebhookEndpointRow, secret: string, created: boolean) =>
    kit.page(ctx, 'webhooks', 'secret', created ? 'admin.webhooks.created' : 'admin.webhooks.new_secret', { webhook, secret, created, time });

  const showDeliveries = async (ctx: Context, id: string, problem: FormProblem | null) => {
    const webhook = await getWebhook(deps, id);
    const page = await listWebhookDeliveries(deps, id, { cursor: optional(ctx.query, 'cursor'), limit: DELIVERIES_PER_PAGE });
    await kit.page(ctx, 'webhooks', 'deliveries', { key: 'admin.webhooks.deliveries.title_of', params: { name: webhook.url } }, { webhook, page, problem, status: statusOf(webhook), time });
  };

  router.get('/webhooks', ...guard, async (ctx) => {
    const page = await listWebhooks(deps, { cursor: optional(ctx.query, 'cursor'), limit: 50 });
    await kit.page(ctx, 'webhooks', 'list', 'admin.webhooks.title', { page, statusOf, time, allEvents: ALL_EVENTS });
  });

  router.get('/webhooks/new', ...guard, (ctx) => showNew(ctx, null, null));

  router.post('/webhooks', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    await kit.submit(
      ctx,
      async () => {
        const { webhook, secret } = await urlChecked(() =>
          createWebhook(deps, principal(ctx).actor, {
            url: optional(body, 'url') as string,
            description: text(body, 'description'),
            eventTypes: checkedValues(body, 'eventTypes'),
            enabled: checked(body, 'enabled'),
          }),
        );
        await showSecret(ctx, webhook, secret, true);
      },
      (problem) => showNew(ctx, submittedValues(body), problem),
    );
  });

  router.get('/webhooks/:id', ...guard, async (ctx) => {
    const webhook = await getWebhook(deps, ctx.params.id!);
    await showEdit(ctx, webhook, storedValues(webhook), null);
  });

  router.post('/webhooks/:id', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    const id = ctx.params.id!;
    await kit.submit(
      ctx,
      async () => {
        const webhook = await urlChecked(() =>
          updateWebhook(deps, principal(ctx).actor, id, {
            url: text(body, 'url'),
            description: text(body, 'description'),
            eventTypes: checkedValues(body, 'eventTypes'),
          }),
        );
        kit.done(ctx, path(webhook.id), 'admin.saved', { name: webhook.url });
      },
      async (problem) => {
        const webhook = await getWebhook(deps, id);
        // Whether it is enabled is not this form's business: the status section changes it.
        await showEdit(ctx, webhook, { ...submittedValues(body), enabled: webhook.enabled }, problem);
      },
    );
  });

  router.post('/webhooks/:id/enable', ...guard, async (ctx) => {
    const webhook = await updateWebhook(deps, principal(ctx).actor, ctx.params.id!, { enabled: true });
    kit.done(ctx, path(webhook.id), 'admin.webhooks.enabled', { url: webhook.url });
  });

  router.post('/webhooks/:id/disable', ...guard, async (ctx) => {
    const webhook = await updateWebhook(deps, principal(ctx).actor, ctx.params.id!, { enabled: false });
    kit.done(ctx, path(webhook.id), 'admin.webhooks.disabled', { url: webhook.url });
  });

  router.get('/webhooks/:id/rotate', ...guard, async (ctx) => {
    const webhook = await getWebhook(deps, ctx.params.id!);
    await kit.page(ctx, 'webhooks', 'rotate', { key: 'admin.webhooks.rotate.title', params: { name: webhook.url } }, { webhook, graceChoices: SECRET_GRACE_CHOICES });
  });

  router.post('/webhooks/:id/rotate', ...guard, async (ctx) => {
    const { webhook, secret } = await rotateWebhookSecret(deps, principal(ctx).actor, ctx.params.id!, { graceSeconds: seconds(formBody(ctx.request.body), 'graceSeconds') });
    await showSecret(ctx, webhook, secret, false);
  });

  router.get('/webhooks/:id/delete', ...guard, async (ctx) => {
    const webhook = await getWebhook(deps, ctx.params.id!);
    await kit.page(ctx, 'webhooks', 'delete', { key: 'admin.delete', params: { name: webhook.url } }, { webhook });
  });

  router.post('/webhooks/:id/delete', ...guard, async (ctx) => {
    await deleteWebhook(deps, principal(ctx).actor, ctx.params.id!);
    kit.done(ctx, '/admin/webhooks', 'admin.webhooks.deleted');
  });

  router.get('/webhooks/:id/deliveries', ...guard, (ctx) => showDeliveries(ctx, ctx.params.id!, null));

  router.post('/webhooks/:id/deliveries/:delivery/redeliver', ...guard, async (ctx) => {
    const id = ctx.params.id!;
    await kit.submit(
      ctx,
      async () => {
        const delivery = await redeliverWebhook(deps, principal(ctx).actor, ctx.params.delivery!, id);
        kit.done(ctx, `${path(id)}/deliveries`, 'admin.webhooks.redelivered', { event: delivery.eventId, type: delivery.eventType });
      },
      (problem) => showDeliveries(ctx, id, problem),
    );
  });
}
