import type { webhookDeliveryJson } from '../../admin/shapes.js';
import type { UpdateWebhookInput } from '../../domain/webhooks.js';
import { commaList, jsonOption, pageOptions, pageRequest, parse, parseWithId, required, seconds } from '../args.js';
import { fields, pageTable, printResult, UsageError, type PageJson } from '../output.js';
import { execute } from '../runner.js';
import { dispatch } from '../subcommands.js';

/** What create and update share. */
const settingOptions = {
  url: { type: 'string' },
  events: { type: 'string', multiple: true },
  description: { type: 'string' },
  ...jsonOption,
} as const;

const secretNote = 'note: the signing secret is shown once, now, and will not be shown again; store it where the receiver can read it';

function printWebhook(webhook: Record<string, unknown>, json: boolean): void {
  printResult(webhook, { json, human: fields, ...('secret' in webhook ? { note: secretNote } : {}) });
}

/** `--enable` or `--disable`, not both; neither keeps the webhook as it is. */
function enabledFrom(values: { enable?: boolean | undefined; disable?: boolean | undefined }): boolean | undefined {
  if (values.enable && values.disable) throw new UsageError('--enable and --disable cannot be used together');
  if (values.enable) return true;
  return values.disable ? false : undefined;
}

/** A delivery as the admin API and --json print it. */
type DeliveryJson = ReturnType<typeof webhookDeliveryJson>;

const deliveryColumns = ['delivery', 'event', 'status', 'attempt', 'time', 'code', 'latency', 'error'];

/**
 * One row per attempt, the delivery named on its first row only, so each delivery reads as a
 * block. A pending delivery ends with a row saying when it is tried next; one given up because
 * its webhook was disabled has a row saying so.
 */
function deliveryRows(page: PageJson<DeliveryJson>): PageJson<Record<string, unknown>> {
  const items = page.items.flatMap((delivery) => {
    const rows: Array<Record<string, unknown>> = delivery.attempt_log.map((attempt) => ({
      attempt: attempt.attempt,
      time: attempt.attempted_at,
      code: attempt.status_code,
      latency: `${attempt.latency_ms} ms`,
      error: attempt.error,
    }));
    if (delivery.next_attempt_at !== null) rows.push({ time: `due ${delivery.next_attempt_at}` });
    // Given up for a reason of its own (its webhook was disabled), not its last attempt's.
    else if (delivery.last_error !== null && delivery.last_error !== (delivery.attempt_log.at(-1)?.error ?? null)) rows.push({ error: delivery.last_error });
    const head = { delivery: delivery.id, event: delivery.event_type, status: delivery.status };
    return rows.map((row, index) => ({ ...row, ...(index === 0 ? head : { delivery: '', event: '', status: '' }) }));
  });
  return { items, next_cursor: page.next_cursor };
}

export const webhooksCommand = dispatch('webhooks', {
  async create(config, argv) {
    const { values } = parse(argv, { ...settingOptions, disabled: { type: 'boolean' } });
    const url = required(values.url, '--url');
    // The domain checks each type against the catalogue and names --events when one is wrong.
    const eventTypes = commaList(values.events);
    if (eventTypes === undefined) throw new UsageError('--events is required: event types, comma-separated, or "*" for every type');
    const webhook = await execute(config, 'webhooks.create', {
      url,
      eventTypes,
      description: values.description,
      enabled: !values.disabled,
    });
    printWebhook(webhook as Record<string, unknown>, values.json ?? false);
  },
  async get(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'webhook id');
    printResult(await execute(config, 'webhooks.get', { id }), { json: values.json ?? false, human: fields });
  },
  async list(config, argv) {
    const { values } = parse(argv, { ...pageOptions, ...jsonOption });
    const page = await execute(config, 'webhooks.list', pageRequest(values));
    printResult(page, { json: values.json ?? false, human: pageTable(['id', 'enabled', 'url', 'event_types', 'description']) });
  },
  async update(config, argv) {
    const { values, id } = parseWithId(
      argv,
      { ...settingOptions, enable: { type: 'boolean' }, disable: { type: 'boolean' }, 'rotate-secret': { type: 'boolean' }, grace: { type: 'string' } },
      'webhook id',
    );
    const changes: UpdateWebhookInput = { url: values.url, eventTypes: commaList(values.events), description: values.description, enabled: enabledFrom(values) };
    const changing = Object.values(changes).some((value) => value !== undefined);
    const rotating = values['rotate-secret'] ?? false;
    if (values.grace !== undefined && !rotating) throw new UsageError('--grace applies only with --rotate-secret');
    if (!changing && !rotating) throw new UsageError('nothing to change: give --url, --events, --description, --enable, --disable or --rotate-secret');
    let webhook = changing ? await execute(config, 'webhooks.update', { id, changes }) : undefined;
    // Rotated last, so the webhook printed with the secret shows the changes too.
    if (rotating) webhook = await execute(config, 'webhooks.rotate-secret', { id, graceSeconds: seconds(values.grace, '--grace') });
    printWebhook(webhook as Record<string, unknown>, values.json ?? false);
  },
  async delete(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'webhook id');
    const result = await execute(config, 'webhooks.delete', { id });
    printResult(result, { json: values.json ?? false, human: () => `deleted webhook ${id}` });
  },
  async deliveries(config, argv) {
    const { values, id } = parseWithId(argv, { ...pageOptions, ...jsonOption }, 'webhook id');
    const page = await execute(config, 'webhooks.deliveries', { id, ...pageRequest(values) });
    printResult(page, {
      json: values.json ?? false,
      human: (deliveries: PageJson<DeliveryJson>) => pageTable(deliveryColumns)(deliveryRows(deliveries)),
    });
  },
  async redeliver(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'delivery id');
    const delivery = await execute(config, 'webhooks.redeliver', { deliveryId: id });
    printResult(delivery, { json: values.json ?? false, human: fields });
  },
});
