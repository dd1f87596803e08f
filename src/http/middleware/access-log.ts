import type { Context, Next } from 'koa';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import { currentRequest } from '../../request-context.js';

/** The probes' routes: logged at debug, since a load balancer and Prometheus call them all day. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const UNMATCHED = 'unmatched';

interface Route {
  name: string;
  params: Record<string, string>;
}

/** The route that answered: the provider's (recorded by its router), else the one our routers matched. */
function routeOf(ctx: Context): Route | undefined {
  const provider = currentRequest()?.providerRoute;
  if (provider) return provider;
  const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return typeof matched === 'string' ? { name: matched, params: (ctx.params as Record<string, string> | undefined) ?? {} } : undefined;
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * The path without its query (codes and tokens travel there), and with the route's parameters
 * shown by name: some are handles a cookie also carries, such as an interaction's id.
 */
function loggablePath(path: string, params: Record<string, string>): string {
  const names = new Map<string, string>();
  for (const [name, value] of Object.entries(params)) {
    if (typeof value === 'string' && value !== '') names.set(value, name);
  }
  if (names.size === 0) return path;
  return path
    .split('/')
    .map((segment) => {
      const name = names.get(decoded(segment));
      return name === undefined ? segment : `:${name}`;
    })
    .join('/');
}

/**
 * One line per request (method, route, path, status, duration; the request id comes with every
 * line) and its duration in the HTTP histogram, labelled by route rather than path so the
 * number of series stays bounded.
 */
export function accessLog(log: Logger, metrics: Metrics) {
  // Every field of the line is built here from values that carry no credential (the path has
  // neither its query nor its handles), so it skips the redaction the other lines go through,
  // which costs more than the rest of writing a line.
  const lines = log.child({}, { redact: [] });
  return async (ctx: Context, next: Next) => {
    const started = process.hrtime.bigint();
    let status: number | undefined;
    try {
      await next();
    } catch (error) {
      status = typeof (error as { status?: unknown }).status === 'number' ? (error as { status: number }).status : 500;
      throw error;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeOf(ctx);
      const routeName = route?.name ?? UNMATCHED;
      const answered = status ?? ctx.status;
      metrics.httpDuration.observe({ route: routeName, method: METHODS.has(ctx.method) ? ctx.method : 'OTHER', status: String(answered) }, seconds);
      const line = {
        method: ctx.method,
        route: routeName,
        path: loggablePath(ctx.path, route?.params ?? {}),
        status: answered,
        durationMs: Math.round(seconds * 10_000) / 10,
      };
      if (PROBES.has(routeName)) lines.debug(line, 'request');
      else lines.info(line, 'request');
    }
  };
}
