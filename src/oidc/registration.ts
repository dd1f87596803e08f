import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import type { Deps } from '../deps.js';
import { clientSecretMatches } from '../domain/clients.js';
import { now } from '../util/clock.js';
import { REGISTRATION_PATH } from './configuration.js';
import { answerUnavailable } from './unavailable.js';

const CLIENT_ROUTE = new RegExp(`^${REGISTRATION_PATH}/([^/]+)$`);

// The limit oidc-provider applies to the bodies it reads itself (lib/shared/selective_body.js).
const BODY_LIMIT = 56 * 1024;

/**
 * Never equal to a stored digest ('!' is not base64url) nor to the empty secret of a client
 * that has none, so the provider's own comparison fails.
 */
const NOT_THE_SECRET = '!';

function clientIdOf(path: string): string | undefined {
  const match = CLIENT_ROUTE.exec(path);
  if (!match?.[1]) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
}

async function readBody(ctx: Context): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * RFC 7592 §2.2 lets a client repeat its client_secret in an update, and oidc-provider v9
 * compares that value with the one it holds, which for Latchkey is the secret's SHA-256. So the
 * presented secret is checked here, by digest, and replaced with what the provider will compare
 * it to: the digest when it is right, a value that never matches when it is not (the hash
 * itself included). The provider still checks the registration access token first.
 */
async function verifyPresentedSecret(deps: Deps, ctx: Context, clientId: string): Promise<boolean> {
  const text = await readBody(ctx);
  if (text === undefined) {
    ctx.status = 400;
    ctx.body = { error: 'invalid_request', error_description: 'the request body is too large' };
    return false;
  }
  const body = parsed(text);
  if (isPlainObject(body) && 'client_secret' in body) {
    const client = await deps.catalog.client(clientId);
    const presented = body.client_secret;
    const matches = client?.clientSecretHash && typeof presented === 'string' && clientSecretMatches(client, presented, now());
    body.client_secret = matches ? client.clientSecretHash : NOT_THE_SECRET;
  }
  // The stream is consumed: the provider falls back to request.body, and parses it if it is text.
  ctx.request.body = isPlainObject(body) ? body : text;
  return true;
}

/**
 * Registration management (RFC 7592) around the provider's own handlers: secrets presented in
 * updates are checked by digest, and no read or update response carries client_secret, which
 * the provider would fill with the stored digest. The secret is shown once, on registration.
 */
export function registrationManagement(deps: Deps): Parameters<Provider['use']>[0] {
  return async (ctx: Context, next: Next) => {
    const clientId = clientIdOf(ctx.path);
    if (clientId === undefined) return next();
    if (ctx.method === 'PUT' && ctx.is('application/json')) {
      try {
        if (!(await verifyPresentedSecret(deps, ctx, clientId))) return;
      } catch (error) {
        if (!isDatabaseUnavailable(error)) throw error;
        // This runs before the provider's routes, outside their error handler.
        answerUnavailable(ctx);
        return;
      }
    }
    await next();
    if ((ctx.method === 'GET' || ctx.method === 'PUT') && isPlainObject(ctx.body)) {
      delete ctx.body.client_secret;
      delete ctx.body.client_secret_expires_at;
    }
  };
}
