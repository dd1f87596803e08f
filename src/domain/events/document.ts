import { z } from 'zod';
import { EVENT_CATALOG, EVENT_TYPES } from './catalog.js';

// docs/events.md is this module's output (`npm run docs:events`); a test keeps the two equal,
// so the catalogue cannot drift from what the code sends.

interface JsonSchema {
  type?: string | string[];
  description?: string;
  format?: string;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
}

/** The JSON Schema of an event's `data`, as receivers may validate it. */
export function eventDataSchema(type: keyof typeof EVENT_CATALOG): JsonSchema {
  return z.toJSONSchema(EVENT_CATALOG[type].data, { io: 'output' }) as JsonSchema;
}

function typeName(schema: JsonSchema): string {
  if (schema.anyOf) return schema.anyOf.map(typeName).join(' or ');
  if (Array.isArray(schema.type)) return schema.type.map((type) => typeName({ ...schema, type })).join(' or ');
  if (schema.enum) return `one of ${schema.enum.map((value) => `\`${String(value)}\``).join(', ')}`;
  if (schema.format === 'date-time') return 'timestamp (ISO 8601)';
  if (schema.type === 'array') return `list of ${typeName(schema.items ?? {})}`;
  if (schema.type === 'object' && schema.additionalProperties && typeof schema.additionalProperties === 'object' && !schema.properties) {
    return `map of ${typeName(schema.additionalProperties)}`;
  }
  return schema.type ?? 'any';
}

/** Each field as a table row, nested objects flattened into dotted paths. */
function fieldRows(schema: JsonSchema, prefix: string): string[] {
  const rows: string[] = [];
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}.${name}`;
    const optional = schema.required?.includes(name) ? '' : ' (optional)';
    const object = field.type === 'object' && field.properties ? field : field.anyOf?.find((option) => option.properties);
    rows.push(`| \`${path}\` | ${object ? 'object' : typeName(field)}${optional} | ${(field.description ?? '').replaceAll('|', '\\|')} |`);
    if (object) rows.push(...fieldRows(object, path));
  }
  return rows;
}

function eventSection(type: keyof typeof EVENT_CATALOG): string {
  const schema = eventDataSchema(type);
  return [
    `### \`${type}\``,
    '',
    EVENT_CATALOG[type].description,
    '',
    '| Field | Type | Description |',
    '| --- | --- | --- |',
    ...fieldRows(schema, 'data'),
    '',
    '<details><summary>JSON Schema of <code>data</code></summary>',
    '',
    '```json',
    JSON.stringify(schema, null, 2),
    '```',
    '',
    '</details>',
    '',
  ].join('\n');
}

export function renderEventCatalog(): string {
  return [
    '# Events',
    '',
    '<!-- Generated from src/domain/events/catalog.ts by `npm run docs:events`. Do not edit by hand. -->',
    '',
    'Latchkey sends these events to the webhooks an admin registers (admin API, `latchkey webhooks`, or the console).',
    'A webhook subscribes to a list of types, or to `*` for every type, including types added later.',
    '',
    '## Every payload',
    '',
    'The request body is JSON:',
    '',
    '| Field | Type | Description |',
    '| --- | --- | --- |',
    '| `id` | string | Unique per event, and the same on every delivery of it (a retry or a redelivery): de-duplicate on it. Also sent as `webhook-id`. |',
    '| `type` | string | One of the types below. |',
    '| `timestamp` | timestamp (ISO 8601) | When the change happened. |',
    "| `data` | object | The subject's public fields, as listed for each type. Never a password hash, a secret, a token or a code. |",
    '',
    'Requests are signed with the [Standard Webhooks](https://www.standardwebhooks.com/) scheme: the headers `webhook-id`,',
    '`webhook-timestamp` and `webhook-signature` carry an HMAC-SHA256 signature of `<id>.<timestamp>.<body>` under the',
    "webhook's secret (`whsec_...`, shown once when the webhook is created or its secret rotated). Verify with any Standard",
    'Webhooks library, which also refuses a timestamp more than five minutes away; `examples/webhook-receiver/` does.',
    '',
    'Delivery is at least once: an event is retried with growing gaps for about a day until the receiver answers with a',
    '2xx status within the timeout, so a receiver may see the same `id` more than once. Events are not ordered.',
    '',
    '## Types',
    '',
    ...EVENT_TYPES.map((type) => `- [\`${type}\`](#${type.replaceAll('.', '')}): ${EVENT_CATALOG[type].description}`),
    '',
    ...EVENT_TYPES.map(eventSection),
  ].join('\n');
}
