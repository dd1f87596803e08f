import { bodyParser } from '@koa/bodyparser';
import { Router } from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { authorizeAdmin } from '../auth.js';
import type { Deps } from '../../deps.js';
import type { Actor } from '../../domain/audit.js';
import { LatchkeyError } from '../../errors.js';
import type { Provider } from '../../oidc/provider.js';
import { bearerToken, challenge } from './bearer.js';
import { toDomainFields, withWireNames } from './fields.js';
import { jsonErrors } from './json-errors.js';
import { API_PREFIX, withOpenApiRoute } from './openapi.js';
import type { Route, Upload } from './route.js';
import { operationRoutes } from './routes/index.js';
import { parseWire } from './validate.js';

/** Body parser errors (malformed JSON, too large) as our own 400 and 413. */
function parseJson(): Middleware {
  return bodyParser({
    enableTypes: ['json'],
    jsonLimit: '64kb',
    jsonStrict: true,
    onError: (error) => {
      const status = (error as { status?: unknown }).status;
      if (status === 413) throw new LatchkeyError('input.too_large', undefined, { cause: error });
      throw new LatchkeyError('input.invalid', 'the body is not valid JSON', { details: { body: 'is not valid JSON' }, cause: error });
    },
  });
}

/** A file to import, read whole as text; only its own media types, up to its own limit. */
function readUpload(upload: Upload): Middleware[] {
  const types = Object.keys(upload.types);
  const expected = types.join(' or ');
  const checkType = async (ctx: Context, next: Next) => {
    if (!ctx.is(types)) throw new LatchkeyError('input.invalid', `the body must be ${expected}`, { details: { 'content-type': `must be ${expected}` } });
    await next();
  };
  const read = bodyParser({
    enableTypes: ['text'],
    extendTypes: { text: types },
    textLimit: upload.limitBytes,
    onError: (error) => {
      if ((error as { status?: unknown }).status === 413) {
        throw new LatchkeyError('input.too_large', `the body is larger than ${upload.limitBytes / 1024 / 1024} MB; split it, or import the file with the CLI`, { cause: error });
      }
      throw new LatchkeyError('input.invalid', 'the body could not be read', { cause: error });
    },
  });
  return [checkType, read];
}

/** A body in another format would otherwise be read as an empty one. */
async function requireJson(ctx: Context, next: Next) {
  if (ctx.request.type && !ctx.is('json')) {
    throw new LatchkeyError('input.invalid', 'the body must be JSON', { details: { 'content-type': 'must be application/json' } });
  }
  await next();
}

async function noStore(ctx: Context, next: Next) {
  ctx.set('Cache-Control', 'no-store');
  await next();
}

/**
 * The layer answering what no route does, so that a wrong address or method under the API is
 * a JSON error too rather than the app's plain-text 404.
 */
export const UNMATCHED = 'unmatched';

/** /admin/api/v1: each route of the table, checked, parsed, handled and shaped the same way. */
export function adminApiRouter(deps: Deps, provider: () => Provider): Router {
  const router = new Router({ prefix: API_PREFIX });

  const authenticate = (route: Route) => async (ctx: Context, next: Next) => {
    if (route.public) {
      ctx.state.actor = { type: 'anonymous', id: null, ip: ctx.ip } satisfies Actor;
      return next();
    }
    const token = bearerToken(ctx);
    try {
      ctx.state.actor = (await authorizeAdmin(deps, provider(), token, ctx.ip)).actor;
    } catch (error) {
      const header = error instanceof LatchkeyError ? challenge(error, token !== undefined) : undefined;
      if (header) ctx.set('WWW-Authenticate', header);
      throw error;
    }
    await next();
  };

  const handle = (route: Route) => async (ctx: Context) => {
    // Path parameter schemas hold strings only.
    const params = (route.params ? parseWire(route.params, ctx.params, 'path') : {}) as Record<string, string>;
    const query = toDomainFields(route.query ? parseWire(route.query, ctx.query, 'query') : {}, route.renames);
    const body = toDomainFields(route.body ? parseWire(route.body, ctx.request.body ?? {}, 'body') : {}, route.renames);
    let result: unknown;
    try {
      const upload = route.upload ? { upload: { type: ctx.request.type, text: String(ctx.request.body ?? '') } } : {};
      result = await route.handle({ deps, actor: ctx.state.actor as Actor, params, query: query.values, body: body.values, ...upload });
    } catch (error) {
      if (!(error instanceof LatchkeyError)) throw error;
      throw withWireNames(error, (name) => (name in query.values ? query.wireName(name) : body.wireName(name)));
    }
    ctx.status = route.status;
    if (route.status !== 204) ctx.body = result;
  };

  for (const route of withOpenApiRoute(operationRoutes)) {
    const reading = route.upload ? readUpload(route.upload) : route.body ? [requireJson, parseJson()] : [];
    // Like router.get(), a GET route answers HEAD too.
    const methods = route.method === 'get' ? ['HEAD', 'GET'] : [route.method.toUpperCase()];
    router.register(route.path, methods, [jsonErrors(deps.log), noStore, authenticate(route), ...reading, handle(route)]);
  }
  router.all(UNMATCHED, '/{*rest}', jsonErrors(deps.log), noStore, async (ctx) => {
    const allowed = router.match(ctx.path, ctx.method).path.filter((layer) => layer.name !== UNMATCHED).flatMap((layer) => layer.methods);
    if (allowed.length === 0) throw new LatchkeyError('route.not_found');
    ctx.set('Allow', [...new Set(allowed)].join(', '));
    throw new LatchkeyError('route.method_not_allowed');
  });
  return router;
}
