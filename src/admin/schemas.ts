import { z } from 'zod';
import { AUDIT_EVENT_TYPES } from '../domain/audit.js';
import { CONFIDENTIAL_AUTH_METHODS, GRANT_TYPES } from '../domain/clients.js';
import { SIGNING_ALGORITHMS } from '../domain/keys.js';

// The admin API's request shapes, as clients send them (snake_case, like OAuth metadata). They
// check types only: the domain functions own every rule and parse their input again. The
// OpenAPI document is generated from these same schemas, so the two cannot disagree.

/** Says "is required" for a missing field and what was expected for a wrong one. */
const expected = (what: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`),
});

const text = z.string(expected('a string'));
const flag = z.boolean(expected('true or false'));
const whole = z.number(expected('a number')).int({ message: 'must be a whole number' });
const strings = z.array(text, expected('an array of strings'));
const seconds = (description: string) => whole.describe(description);
const uri = (description: string) => text.describe(description);
const scope = z
  .union([text, strings], expected('a space-separated string or an array of strings'))
  .describe('Space-separated scopes, or an array of them');

const jwks = z
  .object({ keys: z.array(z.record(z.string(), z.unknown()), expected('an array of JWKs')) }, expected('a JWK Set ({"keys": [...]})'))
  .describe('Public keys of a private_key_jwt client');

// ---- path parameters ----

export const idParams = z.object({ id: text.describe('The id') });
export const grantParams = z.object({ grant_id: text.describe('The grant id') });
export const resourceParams = z.object({
  identifier: text.describe('The resource identifier (an absolute URI), URL-encoded as one path segment'),
});

// ---- query strings ----

export const pageQuery = z
  .object({
    limit: z.coerce
      .number(expected('a whole number from 1 to 1000'))
      .int({ message: 'must be a whole number from 1 to 1000' })
      .min(1, { message: 'must be a whole number from 1 to 1000' })
      .max(1000, { message: 'must be a whole number from 1 to 1000' })
      .optional()
      .describe('Page size, 1 to 1000 (default 100)'),
    cursor: text.optional().describe('The next_cursor of the previous page'),
  })
  .strict();

export const clientsQuery = pageQuery.extend({ name: text.optional().describe('Part of the client name, any case') }).strict();
export const usersQuery = pageQuery.extend({ email: text.optional().describe('Part of the email address, any case') }).strict();
export const auditQuery = pageQuery
  .extend({
    type: z.enum(AUDIT_EVENT_TYPES, expected('an audit event type')).optional().describe('Only events of this type'),
    actor_id: text.optional().describe('Only events by this actor (user id, client id, OS user)'),
    subject_id: text.optional().describe('Only events about this user, client, resource, grant or token'),
    from: text.optional().describe('Only events at or after this time (ISO 8601)'),
    to: text.optional().describe('Only events before this time (ISO 8601)'),
  })
  .strict();

// ---- clients ----

/** Wire names that are not simply the snake_case of the domain's names. */
export const clientRenames = { client_name: 'name' } as const;

const clientFields = {
  redirect_uris: strings.optional(),
  post_logout_redirect_uris: strings.optional(),
  grant_types: z
    .array(z.enum(GRANT_TYPES, expected(`one of ${GRANT_TYPES.join(', ')}`)), expected('an array of grant types'))
    .optional()
    .describe('Default: authorization_code and refresh_token'),
  token_endpoint_auth_method: z
    .enum(CONFIDENTIAL_AUTH_METHODS, expected(`one of ${CONFIDENTIAL_AUTH_METHODS.join(', ')}`))
    .optional()
    .describe('For confidential clients; default client_secret_basic'),
  scope: scope.optional(),
  resources: strings.optional().describe('Identifiers of the APIs the client may ask tokens for'),
  first_party: flag.optional().describe('Skips the consent page'),
  admin_access: flag.optional().describe('May get tokens for this admin API'),
  cors_origins: strings.optional(),
  backchannel_logout_session_required: flag.optional().describe('Logout tokens and ID tokens carry the session id (sid); needs backchannel_logout_uri'),
  require_pushed_authorization_requests: flag.optional().describe('RFC 9126: authorization requests must be pushed to the PAR endpoint first'),
  dpop_bound_access_tokens: flag.optional().describe('RFC 9449: tokens are issued only with a DPoP proof and bound to its key'),
  require_signed_request_object: flag.optional().describe('RFC 9101: authorization requests must be request objects signed with a key of the client; needs jwks or jwks_uri'),
  require_mfa: flag
    .optional()
    .describe('Every sign-in for this client needs a second factor: a session with one factor steps up, a user without one sets one up first'),
};

const refreshReuseGrace = seconds(
  'Seconds (0 to 300) a just-rotated refresh token may be used again by this client (each use gets a new pair), for concurrent tabs and retries; default LATCHKEY_REFRESH_REUSE_GRACE',
);

const backchannelLogoutUri = uri('Where Latchkey posts OpenID Connect back-channel logout tokens: https (http on a loopback host outside production)');

export const createClientBody = z
  .object({
    client_name: text.describe('Shown to users on the consent page'),
    ...clientFields,
    public: flag.optional().describe('A public client (single-page or native app) has no secret and must use PKCE'),
    logo_uri: uri('Logo shown on the consent page').optional(),
    client_uri: uri('Home page of the application').optional(),
    policy_uri: uri('Privacy policy').optional(),
    tos_uri: uri('Terms of service').optional(),
    access_token_ttl: seconds('Access token lifetime in seconds').optional(),
    refresh_token_ttl: seconds('Refresh token lifetime in seconds').optional(),
    refresh_token_reuse_grace: refreshReuseGrace.optional(),
    jwks: jwks.optional(),
    jwks_uri: uri('Where the public keys of a private_key_jwt client are published').optional(),
    backchannel_logout_uri: backchannelLogoutUri.optional(),
  })
  .strict();

/** null clears an optional setting. */
export const updateClientBody = z
  .object({
    client_name: text.optional().describe('Shown to users on the consent page'),
    ...clientFields,
    logo_uri: uri('Logo shown on the consent page').nullable().optional(),
    client_uri: uri('Home page of the application').nullable().optional(),
    policy_uri: uri('Privacy policy').nullable().optional(),
    tos_uri: uri('Terms of service').nullable().optional(),
    access_token_ttl: seconds('Access token lifetime in seconds').nullable().optional(),
    refresh_token_ttl: seconds('Refresh token lifetime in seconds').nullable().optional(),
    refresh_token_reuse_grace: refreshReuseGrace.nullable().optional(),
    jwks: jwks.nullable().optional(),
    jwks_uri: uri('Where the public keys of a private_key_jwt client are published').nullable().optional(),
    backchannel_logout_uri: backchannelLogoutUri.nullable().optional(),
  })
  .strict();

export const rotateSecretBody = z
  .object({ grace_seconds: seconds('How long the previous secret keeps working (default 0, at most 30 days)').optional() })
  .strict();

// ---- users ----

export const createUserBody = z
  .object({
    email: text,
    name: text.optional(),
    password: text.describe('At least 8 characters'),
    email_verified: flag.optional(),
    is_admin: flag.optional(),
  })
  .strict();

/** A changed email is unverified unless email_verified says otherwise; null clears the name. */
export const updateUserBody = z
  .object({
    email: text.optional(),
    name: text.nullable().optional(),
    email_verified: flag.optional(),
    is_admin: flag.optional(),
  })
  .strict();

export const passwordBody = z.object({ password: text.describe('At least 8 characters') }).strict();

// ---- resources ----

export const resourceRenames = { scope: 'scopes' } as const;

const tokenFormat = z.enum(['jwt', 'opaque'], expected('jwt or opaque'));

export const createResourceBody = z
  .object({
    identifier: text.describe('The resource indicator (RFC 8707): an absolute http(s) URI'),
    scope,
    access_token_format: tokenFormat.optional().describe('Default jwt'),
    access_token_ttl: seconds('Access token lifetime in seconds').optional(),
    introspection_client_id: text.optional().describe('A client that may introspect any token issued for this API'),
  })
  .strict();

/** null resets the lifetime to the default, or removes the introspection client. */
export const updateResourceBody = z
  .object({
    scope: scope.optional(),
    access_token_format: tokenFormat.optional(),
    access_token_ttl: seconds('Access token lifetime in seconds').nullable().optional(),
    introspection_client_id: text.nullable().optional(),
  })
  .strict();

// ---- initial access tokens ----

export const createInitialAccessTokenBody = z
  .object({
    description: text.optional(),
    expires_in: seconds('Seconds until the token stops working; none means until revoked').optional(),
  })
  .strict();

// ---- signing keys ----

export const rotateKeysBody = z
  .object({
    algs: z
      .array(z.enum(SIGNING_ALGORITHMS, expected(SIGNING_ALGORITHMS.join(' or '))), expected('an array of algorithms'))
      .optional()
      .describe(`Which keys to rotate (default: ${SIGNING_ALGORITHMS.join(' and ')})`),
    activation_delay: seconds('Seconds the new keys are published before they sign (default LATCHKEY_KEY_ACTIVATION_DELAY)').optional(),
  })
  .strict();

// ---- webhooks ----

export const deliveryParams = z.object({ id: text.describe('The webhook id'), delivery_id: text.describe('The delivery id') });

// The domain checks each type against the event catalogue.
const eventTypes = strings.describe('Event types to receive (see docs/events.md), or ["*"] for every type, including types added later');
const webhookUrl = uri('Where the events are posted: a public http(s) URL (https only in production), without user name or password');
const webhookDescription = text.describe('A note for admins, up to 200 characters');

export const createWebhookBody = z
  .object({
    url: webhookUrl,
    description: webhookDescription.optional(),
    event_types: eventTypes,
    enabled: flag.optional().describe('Default true'),
  })
  .strict();

/** Enabling a webhook that was switched off clears its record of failing. */
export const updateWebhookBody = z
  .object({
    url: webhookUrl.optional(),
    description: webhookDescription.optional(),
    event_types: eventTypes.optional(),
    enabled: flag.optional().describe('false stops deliveries; what was waiting is given up, and can be redelivered'),
  })
  .strict();

// ---- token exchange policies ----

export const tokenExchangePolicyRenames = { scope: 'scopes' } as const;

export const tokenExchangePoliciesQuery = pageQuery.extend({ client_id: text.optional().describe("Only this client's policies") }).strict();

export const createTokenExchangePolicyBody = z
  .object({
    client_id: text.describe('The confidential client allowed to exchange tokens; it also needs the token exchange grant type'),
    subject_audience: uri('The API (resource identifier) the user access tokens it presents are for'),
    target_audience: uri('The API (resource identifier) it gets tokens for'),
    scope: scope.describe('The most an exchange may be given: scopes of the target API (space-separated, or an array)'),
  })
  .strict();

// ---- upstream identity providers ----

const upstreamKind = z.enum(['oidc', 'google', 'microsoft', 'github'], expected('one of oidc, google, microsoft, github'));
const emailDomains = z
  .union([text, strings], expected('a comma-separated string or an array of domains'))
  .describe('Home-realm discovery: addresses at these domains sign in at this provider (a domain goes to one provider only)');
const upstreamScopes = z
  .union([text, strings], expected('a space-separated string or an array of strings'))
  .describe('Scopes asked upstream; default openid email profile (GitHub: read:user user:email)');
const upstreamFields = {
  name: text.describe('Shown on the login page: "Continue with <name>"; presets default to Google, Microsoft, GitHub'),
  client_id: text.describe('The client id registered upstream'),
  client_secret: text.describe('The client secret registered upstream; stored sealed, never returned'),
  scopes: upstreamScopes,
  email_domains: emailDomains,
  issuer: uri('kind oidc: the issuer URL (discovery at <issuer>/.well-known/openid-configuration); https in production'),
  tenant: text.describe('kind microsoft: the directory (tenant) id or domain'),
  github_url: uri('kind github: GitHub Enterprise web address (default https://github.com)'),
  github_api_url: uri('kind github: GitHub Enterprise API address (default https://api.github.com)'),
  enabled: flag.describe('Offered on the login page; default true'),
};

export const createUpstreamProviderBody = z
  .object({
    id: text.describe('Lowercase letters, digits and dashes; part of the redirect URI /upstream/<id>/callback'),
    kind: upstreamKind.describe('oidc (any OpenID provider), or the google, microsoft or github preset'),
    ...upstreamFields,
    name: upstreamFields.name.optional(),
    scopes: upstreamScopes.optional(),
    email_domains: emailDomains.optional(),
    issuer: upstreamFields.issuer.optional(),
    tenant: upstreamFields.tenant.optional(),
    github_url: upstreamFields.github_url.optional(),
    github_api_url: upstreamFields.github_api_url.optional(),
    enabled: upstreamFields.enabled.optional(),
  })
  .strict();

/** Only what is sent changes; client_secret replaces the stored one. */
export const updateUpstreamProviderBody = z
  .object(Object.fromEntries(Object.entries(upstreamFields).map(([name, schema]) => [name, schema.optional()])) as { [K in keyof typeof upstreamFields]: z.ZodOptional<(typeof upstreamFields)[K]> })
  .strict();
