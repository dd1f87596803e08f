import type { Context } from 'koa';
import Provider, { errors } from 'oidc-provider';
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS } from '../db/unavailable.js';

const DESCRIPTION = 'the service is temporarily unavailable; try again in a moment';
const RETRY_AFTER = String(RETRY_AFTER_SECONDS);

/**
 * Runs a database call the provider makes (adapter, accounts, resources, client secrets) so that
 * an outage answers 503. oidc-provider answers an error it does not know as 500 server_error,
 * and a 5xx one as server_error too unless it is exposed; so this is its temporarily_unavailable,
 * status 503, exposed, with Retry-After: set on the request for the provider's error handler,
 * and in `headers` for Koa's, which answers what escapes the provider's routes (a session
 * saved after the response was decided).
 */
export async function orUnavailable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof errors.TemporarilyUnavailable || !isDatabaseUnavailable(error)) throw error;
    Provider.ctx?.set('Retry-After', RETRY_AFTER);
    throw Object.assign(new errors.TemporarilyUnavailable(DESCRIPTION, { cause: error }), {
      status: 503,
      statusCode: 503,
      expose: true,
      headers: { 'Retry-After': RETRY_AFTER },
    });
  }
}

/** The same answer, from middleware that runs before the provider's routes and their error handler. */
export function answerUnavailable(ctx: Context): void {
  ctx.status = 503;
  ctx.set('Retry-After', RETRY_AFTER);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: 'temporarily_unavailable', error_description: DESCRIPTION };
}
