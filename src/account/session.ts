import type { Deps } from '../deps.js';
import { ACCOUNT_CLIENT_ID } from '../domain/first-party-clients.js';
import { firstPartySession, type FirstPartySession } from '../http/first-party/session.js';
import { renderPage } from '../http/render.js';
import type { Provider } from '../oidc/provider.js';
import { authorizeAccount } from './auth.js';

const ACCOUNT_SESSION_COOKIE = 'latchkey_account';

/** The account page's session: its access token, checked with the provider on every request. */
export function accountSession(deps: Deps, provider: () => Provider): FirstPartySession {
  return firstPartySession(deps, provider, {
    basePath: '/account',
    cookieName: ACCOUNT_SESSION_COOKIE,
    label: 'your account page',
    signIn: { clientId: ACCOUNT_CLIENT_ID, scope: 'openid profile email' },
    signedOutView: 'account/signed-out',
    section: 'account.section',
    async authorize(ctx, token) {
      const principal = await authorizeAccount(deps, provider(), token, ctx.ip);
      return principal ? { principal } : 'sign-in';
    },
    // The sign-in was cancelled on the provider's page: the browser is not signed in here.
    async refused(ctx) {
      ctx.type = 'html';
      ctx.body = await renderPage(ctx, 'account/signed-out', { title: 'account.not_signed_in.title', section: 'account.section', theme: deps.config.theme }, {});
    },
  });
}
