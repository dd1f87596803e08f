/**
 * The one error type. Each code maps to an HTTP status, an OAuth `error` value and a message
 * that is safe to show to whoever made the request.
 */
const catalogue = {
  'input.invalid': { status: 400, oauth: 'invalid_request', message: 'The request is not valid.' },
  'input.too_large': { status: 413, oauth: 'invalid_request', message: 'The request is too large.' },
  'route.not_found': { status: 404, oauth: 'invalid_request', message: 'There is nothing at this address.' },
  'route.method_not_allowed': { status: 405, oauth: 'invalid_request', message: 'This address does not take this method.' },
  'user.email_taken': { status: 409, oauth: 'invalid_request', message: 'A user with this email already exists.' },
  'user.not_found': { status: 404, oauth: 'invalid_request', message: 'No such user.' },
  'client.not_found': { status: 404, oauth: 'invalid_client', message: 'No such client.' },
  'client.no_secret': { status: 409, oauth: 'invalid_request', message: 'This client authenticates without a client secret.' },
  'resource.not_found': { status: 404, oauth: 'invalid_target', message: 'No such resource.' },
  'resource.exists': { status: 409, oauth: 'invalid_request', message: 'A resource with this identifier already exists.' },
  'resource.reserved': { status: 409, oauth: 'invalid_request', message: 'This resource belongs to Latchkey itself and cannot be changed.' },
  'grant.not_found': { status: 404, oauth: 'invalid_request', message: 'No such grant.' },
  'initial_access_token.not_found': { status: 404, oauth: 'invalid_request', message: 'No such initial access token.' },
  'admin.unauthenticated': { status: 401, oauth: 'invalid_token', message: 'A valid admin access token is required.' },
  'admin.forbidden': { status: 403, oauth: 'insufficient_scope', message: 'This token does not grant admin access.' },
  'metrics.unauthenticated': { status: 401, oauth: 'invalid_token', message: 'A valid metrics bearer token is required.' },
  'csrf.invalid': { status: 403, oauth: 'invalid_request', message: 'This form has expired. Go back, reload the page and try again.' },
  'auth.invalid_credentials': { status: 401, oauth: 'access_denied', message: 'The email or password is not correct.' },
  'auth.throttled': { status: 429, oauth: 'temporarily_unavailable', message: 'Too many attempts. Try again later.' },
  'auth.email_unverified': { status: 403, oauth: 'access_denied', message: 'Confirm your email address before signing in.' },
  'signup.disabled': { status: 404, oauth: 'invalid_request', message: 'Sign-up is not available on this server.' },
  'email_link.invalid': { status: 400, oauth: 'invalid_request', message: 'This link is no longer valid: it has expired or has already been used.' },
  'session.not_found': { status: 404, oauth: 'invalid_request', message: 'No such session.' },
  'mail.not_found': { status: 404, oauth: 'invalid_request', message: 'No such email.' },
  'webhook.not_found': { status: 404, oauth: 'invalid_request', message: 'No such webhook.' },
  'token_exchange_policy.not_found': { status: 404, oauth: 'invalid_request', message: 'No such token exchange policy.' },
  'token_exchange_policy.exists': { status: 409, oauth: 'invalid_request', message: 'A token exchange policy for this client and these APIs already exists.' },
  'identity.not_found': { status: 404, oauth: 'invalid_request', message: 'No such linked account.' },
  'identity.last_way_in': { status: 409, oauth: 'invalid_request', message: 'This is the last way to sign in to the account: set a password or add a passkey first.' },
  'upstream_provider.not_found': { status: 404, oauth: 'invalid_request', message: 'No such upstream provider.' },
  'upstream_provider.exists': { status: 409, oauth: 'invalid_request', message: 'An upstream provider with this id already exists.' },
  'upstream_provider.domain_taken': { status: 409, oauth: 'invalid_request', message: 'An email domain can go to one upstream provider only.' },
  'webhook.delivery_not_found': { status: 404, oauth: 'invalid_request', message: 'No such webhook delivery.' },
  'webhook.address_refused': { status: 400, oauth: 'invalid_request', message: 'Webhooks are only delivered to public addresses.' },
  'webhook.unresolvable': { status: 400, oauth: 'invalid_request', message: 'The webhook URL\'s host does not resolve to an address.' },
  'interaction.expired': { status: 400, oauth: 'invalid_request', message: 'This sign-in request has expired. Go back to the application and start again.' },
  'data_dir.locked': { status: 503, oauth: 'temporarily_unavailable', message: 'The data directory is in use by another Latchkey server.' },
  'control.unavailable': { status: 503, oauth: 'temporarily_unavailable', message: 'The running server did not answer.' },
  'db.unavailable': { status: 503, oauth: 'temporarily_unavailable', message: 'The service is temporarily unavailable. Try again in a moment.' },
  internal: { status: 500, oauth: 'server_error', message: 'Something went wrong on our side.' },
} as const satisfies Record<string, { status: number; oauth: string; message: string }>;

export type ErrorCode = keyof typeof catalogue;

/** Field name -> what is wrong with it. */
export type ErrorDetails = Record<string, string>;

export class LatchkeyError extends Error {
  override name = 'LatchkeyError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;
  /** Seconds until trying again can succeed (throttling); sent as Retry-After. */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message?: string, options: { details?: ErrorDetails; cause?: unknown; retryAfter?: number } = {}) {
    super(message ?? catalogue[code].message, { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.retryAfter = options.retryAfter;
  }

  get status(): number {
    return catalogue[this.code].status;
  }

  /** The code's own message; a different one says more about this case (and is matched for translation). */
  get defaultMessage(): string {
    return catalogue[this.code].message;
  }

  get oauthError(): string {
    return catalogue[this.code].oauth;
  }

  toJSON() {
    return {
      error: this.oauthError,
      error_description: this.message,
      code: this.code,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(catalogue, value);
}

/** Rebuilds an error that crossed a process boundary (the control socket). */
export function errorFromJSON(body: { code?: unknown; error_description?: unknown; details?: unknown }): LatchkeyError {
  const code = isErrorCode(body.code) ? body.code : 'internal';
  const message = typeof body.error_description === 'string' ? body.error_description : undefined;
  const details = body.details && typeof body.details === 'object' ? (body.details as ErrorDetails) : undefined;
  return new LatchkeyError(code, message, details ? { details } : {});
}
