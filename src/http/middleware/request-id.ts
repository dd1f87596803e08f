import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import { runInRequest } from '../../request-context.js';

// A caller's id (a load balancer's, a client's) is kept when it cannot smuggle anything into a
// log line or a header: short, and only characters that need no quoting.
const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Names the request: the X-Request-Id it came with when that is sane, else a new one. The id
 * goes back in the response header and onto every log line written while the request is
 * handled (src/log.ts reads it from the request context).
 */
export function requestId() {
  return (ctx: Context, next: Next) => {
    const given = ctx.get('X-Request-Id');
    const id = SANE_ID.test(given) ? given : randomUUID();
    // Set on the Node response now: the provider writes its own answers.
    ctx.set('X-Request-Id', id);
    return runInRequest({ id }, next);
  };
}
