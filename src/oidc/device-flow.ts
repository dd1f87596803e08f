import type { Context, Middleware } from 'koa';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config.js';
import type { Deps } from '../deps.js';
import { assertNotThrottled, recordFailure, type ThrottleKey } from '../domain/throttle.js';
import { LatchkeyError } from '../errors.js';
import { renderPage } from '../http/render.js';
import type { MessageKey } from '../i18n/translate.js';

type DeviceFlow = NonNullable<NonNullable<Configuration['features']>['deviceFlow']>;

/** Where the user types the code the device shows (RFC 8628's verification_uri). */
export const DEVICE_PAGE = '/device';

/**
 * Wrong user codes are counted per network address: a code is 8 characters of a 20-letter
 * alphabet, and the throttle keeps guessing one out of reach.
 */
function userCodeThrottle(config: Config, ip: string): ThrottleKey[] {
  return [{ key: `device:ip:${ip}`, allowed: config.throttle.failures }];
}

/** Counts a mistyped or guessed code against the address it came from. */
export async function countWrongUserCode(deps: Deps, ip: string): Promise<void> {
  await recordFailure(deps, userCodeThrottle(deps.config, ip));
}

/** What went wrong with a code, as the provider names it, in words for the page. */
const PROBLEMS: Record<string, MessageKey> = {
  NoCodeError: 'device.error.no_code',
  NotFoundError: 'device.error.not_found',
  ExpiredError: 'device.error.expired',
  AlreadyUsedError: 'device.error.used',
  AbortedError: 'device.error.aborted',
};

/** Mistyped or guessed: what the throttle counts. Expired or used codes were real ones, and an empty form guesses nothing. */
const GUESSES = new Set(['NotFoundError']);

const nameOf = (error: unknown) => (error as { name?: string } | undefined)?.name ?? '';

function render(config: Config, ctx: Context, view: 'device' | 'device-confirm' | 'device-done', title: MessageKey, locals: Record<string, unknown>) {
  return renderPage(ctx, `interactions/${view}`, { title, theme: config.theme }, locals);
}

/** The form's target as the provider checks it: its anti-forgery value rides in the session. */
function formTarget(ctx: KoaContextWithOIDC) {
  return { action: ctx.oidc.urlFor('code_verification'), xsrf: (ctx.oidc.session?.state as { secret?: string } | undefined)?.secret ?? '' };
}

/**
 * RFC 8628's pages in our layout and language: enter the code, confirm it is the one the device
 * shows, sign in and consent as usual, then "you can return to your device".
 */
export function deviceFlow(config: Config, wrongUserCode: (ip: string) => Promise<void>): DeviceFlow {
  return {
    enabled: true,
    charset: 'base-20',
    mask: '****-****',
    async userCodeInputSource(ctx, _form, _out, error) {
      if (GUESSES.has(nameOf(error))) await wrongUserCode(ctx.ip);
      const problem = error ? (PROBLEMS[nameOf(error)] ?? 'device.error.other') : null;
      // A cancel is an answer, not a mistake; a server error keeps its own status.
      const status = (error as { statusCode?: number } | undefined)?.statusCode;
      if (problem && nameOf(error) !== 'AbortedError') ctx.status = status !== undefined && status >= 500 ? status : 400;
      ctx.body = await render(config, ctx, 'device', 'device.title', { ...formTarget(ctx), problem });
    },
    async userCodeConfirmSource(ctx, _form, client, _deviceInfo, userCode) {
      ctx.body = await render(config, ctx, 'device-confirm', 'device.confirm.title', {
        ...formTarget(ctx),
        userCode,
        client: { name: client.clientName ?? client.clientId, logoUri: client.logoUri, policyUri: client.policyUri, tosUri: client.tosUri },
      });
    },
    async successSource(ctx) {
      ctx.body = await render(config, ctx, 'device-done', 'device.done.title', { clientName: ctx.oidc.client?.clientName ?? null });
    },
  };
}

/**
 * Before the provider looks a code up: an address that has guessed too often waits. The page
 * says for how long and offers no form, since the provider's anti-forgery value is not made yet.
 */
export function userCodeThrottling(deps: Deps): Middleware {
  return async (ctx, next) => {
    // The provider's router ignores case and a trailing slash: so does this check.
    if (ctx.method !== 'POST' || ctx.path.replace(/\/+$/, '').toLowerCase() !== DEVICE_PAGE) return next();
    try {
      await assertNotThrottled(deps, userCodeThrottle(deps.config, ctx.ip));
    } catch (error) {
      if (!(error instanceof LatchkeyError) || error.code !== 'auth.throttled') throw error;
      ctx.status = 429;
      ctx.set('Retry-After', String(error.retryAfter));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await render(deps.config, ctx, 'device', 'device.title', { action: null, xsrf: '', problem: 'device.error.throttled' });
      return;
    }
    return next();
  };
}
