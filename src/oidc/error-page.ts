import type { KoaContextWithOIDC, ErrorOut } from 'oidc-provider';
import { renderPage } from '../http/render.js';
import { pageLanguage } from './locales.js';

const headings: Record<string, string> = {
  invalid_request: 'This sign-in request is not valid',
  invalid_client: 'This application is not registered',
  invalid_redirect_uri: 'This application sent you to an unregistered address',
  unauthorized_client: 'This application may not do that',
  access_denied: 'Access was denied',
  login_required: 'You need to sign in',
  server_error: 'Something went wrong on our side',
  temporarily_unavailable: 'Sign-in is temporarily unavailable',
};

/**
 * The provider's error page (oidc-provider `renderError`): shown instead of a redirect when
 * the redirect_uri cannot be trusted, so it never sends the browser anywhere itself.
 */
export async function renderErrorPage(ctx: KoaContextWithOIDC, out: ErrorOut): Promise<void> {
  const code = String(out.error ?? 'server_error');
  ctx.type = 'html';
  ctx.body = await renderPage('error', { title: 'Error', lang: pageLanguage(ctx.oidc?.params?.ui_locales) }, {
    heading: headings[code] ?? 'The request could not be completed',
    description: typeof out.error_description === 'string' ? out.error_description : 'The request could not be completed.',
    code,
  });
}
