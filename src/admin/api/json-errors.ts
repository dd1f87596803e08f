import type { Context, Next } from 'koa';
import { LatchkeyError } from '../../errors.js';
import type { Logger } from '../../log.js';

/**
 * Answers every admin API error as JSON, whatever the Accept header says (the app-wide handler
 * would render a page for a browser). Unknown errors are logged and shown as a plain 500.
 */
export function jsonErrors(log: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (caught) {
      const error = caught instanceof LatchkeyError ? caught : new LatchkeyError('internal', undefined, { cause: caught });
      if (error.code === 'internal') log.error({ err: caught, path: ctx.path }, 'admin API request failed');
      ctx.status = error.status;
      ctx.body = error.toJSON();
    }
  };
}
