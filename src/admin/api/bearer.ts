import type { Context } from 'koa';
import { ADMIN_SCOPE } from '../../domain/admin-access.js';
import { LatchkeyError } from '../../errors.js';

const REALM = 'latchkey-admin';

/** The token of an `Authorization: Bearer` header; undefined when the request carries none. */
export function bearerToken(ctx: Context): string | undefined {
  const header = ctx.get('authorization');
  if (!header) return undefined;
  const match = /^Bearer +([^ ]+) *$/i.exec(header);
  // A header in another scheme or shape is a token we cannot use: say it is invalid.
  return match?.[1] ?? '';
}

// RFC 6750 §3: error_description holds printable ASCII other than `"` and `\`.
const quotable = (text: string) => text.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '');

/**
 * The WWW-Authenticate challenge for a refused request (RFC 6750 §3). A request that sent no
 * credentials gets no error code (§3.1); one with a bad token hears why.
 */
export function challenge(error: LatchkeyError, sentCredentials: boolean): string | undefined {
  if (error.code === 'admin.unauthenticated') {
    if (!sentCredentials) return `Bearer realm="${REALM}"`;
    return `Bearer realm="${REALM}", error="invalid_token", error_description="${quotable(error.message)}"`;
  }
  if (error.code === 'admin.forbidden') {
    return `Bearer realm="${REALM}", error="insufficient_scope", error_description="${quotable(error.message)}", scope="${ADMIN_SCOPE}"`;
  }
  return undefined;
}
