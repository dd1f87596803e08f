import { z } from 'zod';
import type { ClientRow } from '../../store/clients.js';
import type { UserRow } from '../../store/users.js';

// The events Latchkey sends to webhooks: one schema per type for its `data`. Emitting parses
// through the schema, which keeps only the fields listed here, so a hash, a secret, a token or a
// code can never reach a payload; docs/events.md is rendered from the same schemas.

const timestamp = z.iso.datetime({ offset: true });

const user = z
  .object({
    id: z.string().describe("The user's id: the `sub` of their tokens."),
    email: z.string().describe('Their email address.'),
    email_verified: z.boolean().describe('Whether they have proved they own the address.'),
    name: z.string().nullable().describe('Their display name, if they gave one.'),
    disabled: z.boolean().describe('A disabled user cannot sign in.'),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .describe('The user, as the admin API shows them.');

const client = z
  .object({
    client_id: z.string(),
    client_name: z.string(),
    application_type: z.string().optional(),
    grant_types: z.array(z.string()),
    response_types: z.array(z.string()),
    redirect_uris: z.array(z.string()),
    post_logout_redirect_uris: z.array(z.string()),
    token_endpoint_auth_method: z.string(),
    scope: z.string(),
    first_party: z.boolean().describe('Whether the client is trusted to skip consent.'),
    registered_dynamically: z.boolean().describe('Whether it registered itself (RFC 7591).'),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .describe('The client, as the admin API shows it, without its secret.');

const clientReference = z.object({ client_id: z.string(), client_name: z.string() });

const changed = z.array(z.string()).describe('The names of the fields that changed.');

const clientId = z.string().nullable().describe('The application the user was signing in to.');

export const EVENT_CATALOG = {
  'user.created': {
    description: 'A user was created: by an admin, by signing up, by an import, or by a first sign-in through an upstream provider.',
    data: z.object({
      user,
      created_via: z.enum(['admin', 'signup', 'import', 'upstream']).describe('How the user came to be.'),
    }),
  },
  'user.updated': {
    description: "A user's profile changed (email address, name, admin rights or verification).",
    data: z.object({ user, changed }),
  },
  'user.email_verified': {
    description: 'A user proved they own their email address (or an admin marked it verified).',
    data: z.object({ user }),
  },
  'user.password_changed': {
    description: "A user's password changed: set by an admin, reset through an emailed link, or changed by the user.",
    data: z.object({ user, reason: z.enum(['admin', 'reset', 'change']) }),
  },
  'user.disabled': {
    description: 'A user was disabled: they cannot sign in, and their sessions and tokens ended.',
    data: z.object({ user }),
  },
  'user.enabled': {
    description: 'A disabled user was enabled again.',
    data: z.object({ user }),
  },
  'user.deleted': {
    description: 'A user was deleted, with their sessions, grants and tokens. `user` is how they were just before.',
    data: z.object({ user }),
  },
  'user.signed_in': {
    description: 'A user signed in: with a password, a passkey or an upstream provider, and any second step their account asks for.',
    data: z.object({ user, client_id: clientId }),
  },
  'user.sign_in_failed': {
    description: 'A sign-in failed: an unknown address, a wrong password or a disabled user. The address typed is included when it is one, never the password.',
    data: z.object({
      email: z.string().nullable().describe('The address that was typed; it may belong to nobody. Null when what was typed is not an email address.'),
      client_id: clientId,
    }),
  },
  'user.locked_out': {
    description: 'Failed attempts for one address (or from one IP address) reached the throttle: further attempts wait.',
    data: z.object({
      email: z.string().nullable().describe('The address under attack; null when what was typed is not an email address.'),
      user_id: z.string().nullable().describe('The user it belongs to, when the attempt was by a signed-in user.'),
      retry_after_seconds: z.number().int().describe('How long the next attempt must wait.'),
      action: z.enum(['sign-in', 'password-change']),
    }),
  },
  'grant.created': {
    description: 'A user consented: an application may now act for them within the scopes granted.',
    data: z.object({
      grant_id: z.string(),
      user_id: z.string(),
      client_id: z.string(),
      scope: z.string().describe('The OpenID Connect scopes added by this consent.'),
      resources: z.record(z.string(), z.string()).describe('API scopes added, by resource indicator.'),
    }),
  },
  'grant.revoked': {
    description: 'A grant was revoked, by the user on their account page or by an admin, with every token issued under it.',
    data: z.object({ grant_id: z.string(), user_id: z.string(), client_id: z.string() }),
  },
  'client.created': {
    description: 'An OAuth client was registered, by an admin or by itself (dynamic registration).',
    data: z.object({ client }),
  },
  'client.updated': {
    description: "An OAuth client's registration changed.",
    data: z.object({ client, changed }),
  },
  'client.deleted': {
    description: 'An OAuth client was deleted; its tokens stop working.',
    data: z.object({ client: clientReference }),
  },
  'client.secret_rotated': {
    description: "A confidential client's secret was replaced. The previous secret keeps working until `previous_secret_expires_at`.",
    data: z.object({ client: clientReference, previous_secret_expires_at: timestamp.nullable() }),
  },
} as const satisfies Record<string, { description: string; data: z.ZodObject }>;

export type EventType = keyof typeof EVENT_CATALOG;
export type EventData<T extends EventType> = z.input<(typeof EVENT_CATALOG)[T]['data']>;

export const EVENT_TYPES = Object.keys(EVENT_CATALOG) as EventType[];

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(EVENT_CATALOG, value);
}

const iso = (value: Date) => value.toISOString();

/** A user as events carry them; the schema drops anything else the row holds. */
export function userData(row: UserRow): z.input<typeof user> {
  return {
    id: row.id,
    email: row.email,
    email_verified: row.emailVerified,
    name: row.name,
    disabled: row.disabled,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
}

export function clientData(row: ClientRow): z.input<typeof client> {
  return {
    ...row.metadata,
    client_id: row.clientId,
    client_name: row.name,
    first_party: row.firstParty,
    registered_dynamically: row.registeredDynamically,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
}
