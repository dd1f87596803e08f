import type { KoaContextWithOIDC, ErrorOut } from 'oidc-provider';
import type { Config } from '../config.js';
import { pageTranslator, renderPage } from '../http/render.js';
import type { MessageKey } from '../i18n/translate.js';

/** The OAuth errors an authorization request ends in that have words of their own; others get `oauth.other`. */
const EXPLAINED = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_redirect_uri',
  'unauthorized_client',
  'access_denied',
  'login_required',
  'invalid_scope',
  'invalid_target',
  'unsupported_response_type',
  'invalid_request_uri',
  'invalid_request_object',
  'server_error',
  'temporarily_unavailable',
]);

/**
 * The provider's error page (oidc-provider `renderError`): shown instead of a redirect when
 * the redirect_uri cannot be trusted, so it never sends the browser anywhere itself. It says
 * what went wrong in the person's language, gives the code and the provider's technical
 * description for the application's developers, and a way back: the application's home page
 * when it registered one, else the account page.
 */
export function renderErrorPage(config: Config) {
  return async (ctx: KoaContextWithOIDC, out: ErrorOut): Promise<void> => {
    const code = String(out.error ?? 'server_error');
    const uiLocales = ctx.oidc?.params?.ui_locales;
    const t = pageTranslator(ctx, uiLocales);
    const message = (EXPLAINED.has(code) ? `oauth.${code}` : 'oauth.other') as MessageKey;
    const client = ctx.oidc?.client;
    const wayBack = client?.clientUri
      ? { href: client.clientUri, label: t('error.back_to_client', { client: client.clientName ?? client.clientId }) }
      : { href: '/account', label: t('error.to_account', { product: config.theme.name }) };
    ctx.type = 'html';
    ctx.body = await renderPage(ctx, 'error', { title: 'error.title', theme: config.theme, uiLocales }, {
      heading: t(message),
      description: t(`${message}.detail` as MessageKey),
      code,
      details: typeof out.error_description === 'string' ? out.error_description : null,
      wayBack,
    });
  };
}
