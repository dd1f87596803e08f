import type { Context, Next } from 'koa';
import type { Logger } from '../../log.js';
import { databaseUnavailable, isDatabaseUnavailable, unavailableReason } from '../../db/unavailable.js';
import { LatchkeyError } from '../../errors.js';
import type { Config } from '../../config.js';
import { problemText } from '../forms.js';
import { pageTranslator, renderPage } from '../render.js';

function wantsHtml(ctx: Context): boolean {
  return ctx.accepts(['json', 'html']) === 'html';
}

/** Koa and its body parser throw http-errors (`status`, `expose`) for bad requests; keep them 4xx. */
function asLatchkeyError(caught: unknown): LatchkeyError {
  if (caught instanceof LatchkeyError) return caught;
  if (isDatabaseUnavailable(caught)) return databaseUnavailable(caught);
  const status = (caught as { status?: unknown }).status;
  if (status === 413) return new LatchkeyError('input.too_large', undefined, { cause: caught });
  if (status === 404) return new LatchkeyError('route.not_found', undefined, { cause: caught });
  if (typeof status === 'number' && status >= 400 && status < 500) return new LatchkeyError('input.invalid', undefined, { cause: caught });
  return new LatchkeyError('internal', undefined, { cause: caught });
}

/**
 * The error to answer with, logged when it is ours (unknown) or the database's (away), with its
 * status and Retry-After set on the response.
 */
export function failure(ctx: Context, caught: unknown, log: Logger): LatchkeyError {
  const error = asLatchkeyError(caught);
  if (error.code === 'internal') log.error({ err: caught, path: ctx.path }, 'request failed');
  if (error.code === 'db.unavailable') log.warn({ reason: unavailableReason(caught), path: ctx.path }, 'the database did not answer');
  ctx.status = error.status;
  if (error.retryAfter !== undefined) ctx.set('Retry-After', String(error.retryAfter));
  return error;
}

/** The page a browser gets for one of our errors, in its language, with a way back. */
export async function errorPage(ctx: Context, error: LatchkeyError, theme: Config['theme']): Promise<string> {
  const t = pageTranslator(ctx);
  const problem = problemText(error);
  // A list of field problems belongs beside a form's fields; on an error page (a hand-edited
  // address) it is detail for whoever typed it, under the code's own message.
  const summary = problem.key === 'form.fix_fields';
  return renderPage(ctx, 'error', { title: 'error.title', theme }, {
    heading: t(error.status >= 500 ? 'error.heading.server' : 'error.heading.request'),
    description: summary ? t(`error.${error.code}`) : problem.key ? t(problem.key) : t.message(problem.message),
    code: error.oauthError,
    details: summary ? error.message : null,
    wayBack: { href: '/account', label: t('error.to_account', { product: theme.name }) },
  });
}

/**
 * Turns every error into a readable answer: a page for browsers, `{ error, error_description,
 * code, details }` for API clients. Unknown errors are logged with their stack and shown as a
 * plain 500, never the stack itself.
 */
export function errorHandler(log: Logger, theme: Config['theme']) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (caught) {
      const error = failure(ctx, caught, log);
      ctx.set('Cache-Control', 'no-store');
      if (wantsHtml(ctx)) {
        ctx.type = 'html';
        ctx.body = await errorPage(ctx, error, theme);
      } else {
        ctx.body = error.toJSON();
      }
    }
  };
}
