import type { Context, Next } from 'koa';
import { failure } from '../../http/middleware/error-handler.js';
import type { Logger } from '../../log.js';

/**
 * Answers every admin API error as JSON, whatever the Accept header says (the app-wide handler
 * would render a page for a browser).
 */
export function jsonErrors(log: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (caught) {
      ctx.body = failure(ctx, caught, log).toJSON();
    }
  };
}
