import type { ServerResponse } from 'node:http';
import type { Context, Next } from 'koa';
import { DISCOVERY_PATH, OAUTH_DISCOVERY_PATH, PROVIDER_ROUTES } from './configuration.js';
import { currentRequest } from '../request-context.js';
import type { Provider } from './provider.js';

/** The documents every relying party and API fetches, and that change only with the provider, by the provider's route name. */
const DOCUMENTS = new Map<string, string>([
  [PROVIDER_ROUTES.jwks, 'jwks'],
  [DISCOVERY_PATH, 'discovery'],
  [OAUTH_DISCOVERY_PATH, 'discovery'],
]);

interface Document {
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** What the provider set on the response, as opposed to what our middleware set before it ran. */
function headersSetSince(res: ServerResponse, before: Set<string>): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(res.getHeaders())) {
    // Koa counts the length of what it sends itself.
    if (before.has(name) || name === 'content-length' || value === undefined) continue;
    headers[name] = typeof value === 'number' ? String(value) : value;
  }
  return headers;
}

/** Calls `keep` with the body of a 200 the response ends with. */
function onSuccessfulEnd(res: ServerResponse, keep: (body: Buffer) => void): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    const [chunk] = args;
    if (res.statusCode === 200 && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) keep(Buffer.from(chunk));
    return end(...args);
  }) as ServerResponse['end'];
}

/**
 * The provider's JWKS and discovery documents, served from memory. They change only when the
 * provider is rebuilt (a key change), so each is kept from a provider's first answer and given
 * to every later plain GET without running the provider again (which builds and serialises it
 * on every request). Kept per provider: a rebuilt one answers afresh. Only requests for the
 * issuer's own origin are answered from memory (the provider writes endpoint URLs from the
 * request's host); conditional and cross-origin requests still go to the provider.
 */
export function publishedDocuments(provider: () => Provider, issuer: string) {
  const issuerOrigin = new URL(issuer).origin;
  const kept = new WeakMap<Provider, Map<string, Document>>();
  return async (ctx: Context, next: Next) => {
    const plain = ctx.method === 'GET' && DOCUMENTS.has(ctx.path) && !ctx.querystring && !ctx.get('origin') && !ctx.get('if-none-match') && !ctx.get('if-modified-since');
    if (!plain || `${ctx.protocol}://${ctx.host}` !== issuerOrigin) return next();
    const current = provider();
    let documents = kept.get(current);
    if (!documents) {
      documents = new Map();
      kept.set(current, documents);
    }
    const known = documents.get(ctx.path);
    if (known) {
      // For the access log and the metrics, which otherwise learn the route from the provider's router.
      const request = currentRequest();
      if (request) request.providerRoute = { name: DOCUMENTS.get(ctx.path)!, params: {} };
      ctx.set(known.headers);
      ctx.body = known.body;
      return;
    }
    const before = new Set(ctx.res.getHeaderNames());
    const path = ctx.path;
    const store = documents;
    onSuccessfulEnd(ctx.res, (body) => store.set(path, { headers: headersSetSince(ctx.res, before), body }));
    await next();
  };
}
