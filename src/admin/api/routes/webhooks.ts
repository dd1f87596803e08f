import type { PageRequest } from '../../../domain/pagination.js';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listWebhookDeliveries,
  listWebhooks,
  redeliverWebhook,
  rotateWebhookSecret,
  updateWebhook,
  type CreateWebhookInput,
  type UpdateWebhookInput,
  type WebhookWithSecret,
} from '../../../domain/webhooks.js';
import { pageJson, webhookDeliveryJson, webhookJson } from '../../shapes.js';
import { createWebhookBody, deliveryParams, idParams, pageQuery, rotateSecretBody, updateWebhookBody } from '../../schemas.js';
import { defineRoute, domainInput, type Route } from '../route.js';

/** The webhook and its signing secret: the only time anyone sees the secret. */
function withSigningSecret({ webhook, secret }: WebhookWithSecret) {
  return { ...webhookJson(webhook), secret };
}

const tag = 'Webhooks';

export const webhookRoutes: Route[] = [
  defineRoute({
    method: 'post',
    path: '/webhooks',
    tag,
    summary: 'Register a webhook: events of the given types are posted to its URL, signed (Standard Webhooks)',
    body: createWebhookBody,
    status: 201,
    response: 'The webhook; secret (whsec_...), which receivers verify signatures with, is shown only in this response',
    handle: async ({ deps, actor, body }) => withSigningSecret(await createWebhook(deps, actor, domainInput<CreateWebhookInput>(body))),
  }),
  defineRoute({
    method: 'get',
    path: '/webhooks',
    tag,
    summary: 'List webhooks, oldest first',
    query: pageQuery,
    status: 200,
    response: 'A page of webhooks (never their secrets)',
    handle: async ({ deps, query }) => pageJson(await listWebhooks(deps, domainInput<PageRequest>(query)), webhookJson),
  }),
  defineRoute({
    method: 'get',
    path: '/webhooks/:id',
    tag,
    summary: 'Get a webhook',
    params: idParams,
    status: 200,
    response: 'The webhook (never its secret)',
    handle: async ({ deps, params }) => webhookJson(await getWebhook(deps, params.id)),
  }),
  defineRoute({
    method: 'patch',
    path: '/webhooks/:id',
    tag,
    summary: 'Change some settings of a webhook; enabled false stops its deliveries',
    params: idParams,
    body: updateWebhookBody,
    status: 200,
    response: 'The changed webhook',
    handle: async ({ deps, actor, params, body }) => webhookJson(await updateWebhook(deps, actor, params.id, domainInput<UpdateWebhookInput>(body))),
  }),
  defineRoute({
    method: 'post',
    path: '/webhooks/:id/rotate-secret',
    tag,
    summary: 'Issue a new signing secret; the next attempt is signed with it, and with the old one too for grace_seconds more',
    params: idParams,
    body: rotateSecretBody,
    status: 200,
    response: 'The webhook with its new secret, shown only in this response',
    handle: async ({ deps, actor, params, body }) =>
      withSigningSecret(await rotateWebhookSecret(deps, actor, params.id, domainInput<{ graceSeconds?: number }>(body))),
  }),
  defineRoute({
    method: 'delete',
    path: '/webhooks/:id',
    tag,
    summary: 'Delete a webhook with its delivery log; what was waiting for it is not sent',
    params: idParams,
    status: 204,
    response: 'Deleted',
    handle: async ({ deps, actor, params }) => deleteWebhook(deps, actor, params.id),
  }),
  defineRoute({
    method: 'get',
    path: '/webhooks/:id/deliveries',
    tag,
    summary: "List a webhook's deliveries, newest first, each with its attempts",
    params: idParams,
    query: pageQuery,
    status: 200,
    response: 'A page of deliveries',
    handle: async ({ deps, params, query }) => pageJson(await listWebhookDeliveries(deps, params.id, domainInput<PageRequest>(query)), webhookDeliveryJson),
  }),
  defineRoute({
    method: 'post',
    path: '/webhooks/:id/deliveries/:delivery_id/redeliver',
    tag,
    summary: 'Send the event of a delivery again, with the same event id, as a new delivery; refused (400) while the webhook is disabled',
    params: deliveryParams,
    status: 201,
    response: 'The new delivery, pending',
    handle: async ({ deps, actor, params }) =>
      // Just queued: it has no attempts yet.
      webhookDeliveryJson({ ...(await redeliverWebhook(deps, actor, params.delivery_id, params.id)), attemptLog: [] }),
  }),
];
