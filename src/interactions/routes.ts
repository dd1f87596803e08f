import { bodyParser } from '@koa/bodyparser';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { errors, type InteractionResults } from 'oidc-provider';
import type { Deps } from '../deps.js';
import { authenticate, findActiveAccount } from '../domain/accounts.js';
import { adminResourceIdentifier } from '../domain/admin-access.js';
import { recordConsent, recordFailedSignIn, recordSignIn } from '../domain/sign-in-events.js';
import { assertNotThrottled, clearFailures, emailThrottle, recordFailure } from '../domain/throttle.js';
import { LatchkeyError } from '../errors.js';
import { loginOutcome } from '../metrics.js';
import { problemText } from '../http/forms.js';
import { pageCsrf } from '../http/middleware/page-csrf.js';
import { pageTranslator, renderPage } from '../http/render.js';
import { sha256 } from '../util/digest.js';
import { cookieSecrets, type Provider } from '../oidc/provider.js';
import { describePermissions } from './permissions.js';
import { loginForm } from './forms.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

interface ClientPresentation {
  name: string;
  logoUri: string | undefined;
  policyUri: string | undefined;
  tosUri: string | undefined;
}

/**
 * The pages oidc-provider sends the browser to: login and consent. Each handler reads the
 * interaction, calls one domain function and hands the result back with interactionFinished.
 */
export function interactionsRouter(deps: Deps, provider: () => Provider): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const form = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });
  const csrf = pageCsrf({ keys: () => cookieSecrets(provider()), secure: deps.config.http.issuer.startsWith('https:') });

  // One provider for the whole request: a key change may swap in a new one meanwhile.
  router.use(async (ctx, next) => {
    ctx.state.provider = provider();
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } catch (error) {
      if (error instanceof errors.SessionNotFound) throw new LatchkeyError('interaction.expired', undefined, { cause: error });
      throw error;
    }
  });
  router.use(form, csrf);

  const providerOf = (ctx: Context) => ctx.state.provider as Provider;

  async function details(ctx: Context): Promise<Details> {
    const found = await providerOf(ctx).interactionDetails(ctx.req, ctx.res);
    // The interaction cookie is bound to its uid; a uid in the URL that is not that one is stale.
    if (found.uid !== ctx.params.uid) throw new LatchkeyError('interaction.expired');
    return found;
  }

  /** How the login and consent pages present the application: its registered name, logo and policies. */
  async function clientOf(ctx: Context, interaction: Details): Promise<ClientPresentation> {
    const clientId = interaction.params.client_id;
    const client = typeof clientId === 'string' ? await providerOf(ctx).Client.find(clientId) : undefined;
    return {
      name: client?.clientName ?? (typeof clientId === 'string' ? clientId : pageTranslator(ctx, interaction.params.ui_locales)('common.the_application')),
      logoUri: client?.logoUri,
      policyUri: client?.policyUri,
      tosUri: client?.tosUri,
    };
  }

  const page = (title: 'login.title' | 'consent.title', interaction: Details) => ({
    title,
    theme: deps.config.theme,
    uiLocales: interaction.params.ui_locales,
    returnTo: `/interaction/${interaction.uid}`,
  });

  async function showLogin(ctx: Context, interaction: Details, state: { email: string; error: LatchkeyError | null; unverified?: boolean }) {
    ctx.type = 'html';
    ctx.body = await renderPage(ctx, 'interactions/login', page('login.title', interaction), {
      uid: interaction.uid,
      client: await clientOf(ctx, interaction),
      email: state.email,
      error: state.error && problemText(state.error),
      unverified: state.unverified ?? false,
      signupEnabled: deps.config.accounts.signup,
      csrfToken: ctx.state.csrfToken as string,
    });
  }

  async function finish(ctx: Context, result: InteractionResults, merge: boolean) {
    const redirectTo = await providerOf(ctx).interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
    // 303: the browser follows a POST with a GET.
    ctx.status = 303;
    ctx.redirect(redirectTo);
  }

  router.get('/', async (ctx) => {
    const interaction = await details(ctx);
    if (interaction.prompt.name === 'login') {
      const hint = interaction.params.login_hint;
      return showLogin(ctx, interaction, { email: typeof hint === 'string' ? hint : '', error: null });
    }
    if (interaction.prompt.name === 'consent') {
      const accountId = interaction.session?.accountId;
      const account = accountId ? await findActiveAccount(deps, accountId) : undefined;
      const client = await deps.catalog.client(String(interaction.params.client_id));
      // First-party applications are Latchkey's own or the operator's: no consent screen.
      if (account && client?.firstParty) return grantAndFinish(ctx, interaction, account.id);
      ctx.type = 'html';
      ctx.body = await renderPage(ctx, 'interactions/consent', page('consent.title', interaction), {
        uid: interaction.uid,
        client: await clientOf(ctx, interaction),
        accountEmail: account?.email ?? '',
        permissions: describePermissions(interaction.prompt.details, pageTranslator(ctx, interaction.params.ui_locales)),
        // The user allowed this application something before: the page lists only what is new.
        grantedBefore: interaction.grantId !== undefined,
        csrfToken: ctx.state.csrfToken as string,
      });
      return;
    }
    throw new LatchkeyError('interaction.expired');
  });

  router.post('/login', async (ctx) => {
    const interaction = await details(ctx);
    if (interaction.prompt.name !== 'login') throw new LatchkeyError('interaction.expired');
    const submitted = loginForm(ctx.request.body);
    const throttle = emailThrottle(deps, 'login', submitted.email, ctx.ip);
    try {
      const standing = await assertNotThrottled(deps, throttle);
      const user = await authenticate(deps, submitted);
      deps.metrics.logins.inc({ outcome: 'success' });
      await clearFailures(deps, standing);
      await recordSignIn(deps, ctx.ip, user, String(interaction.params.client_id));
      await finish(ctx, { login: { accountId: user.id, amr: ['pwd'], remember: true } }, false);
    } catch (error) {
      if (!(error instanceof LatchkeyError)) throw error;
      if (error.code === 'auth.invalid_credentials') await countFailedSignIn(ctx, interaction, submitted.email, throttle);
      else if (error.code === 'auth.throttled') ctx.set('Retry-After', String(error.retryAfter));
      else if (error.code !== 'auth.email_unverified') throw error;
      deps.metrics.logins.inc({ outcome: loginOutcome(error.code) });
      ctx.status = error.status;
      await showLogin(ctx, interaction, { email: submitted.email, error, unverified: error.code === 'auth.email_unverified' });
    }
  });

  async function countFailedSignIn(ctx: Context, interaction: Details, email: string, throttle: ReturnType<typeof emailThrottle>) {
    const wait = await recordFailure(deps, throttle);
    await recordFailedSignIn(deps, ctx.ip, { email, clientId: String(interaction.params.client_id), lockedOutSeconds: wait });
  }

  /**
   * Grants what the interaction asks for and moves on. The admin API's scope is refused to
   * anyone who is not an admin: the application gets access_denied rather than a token the
   * admin API would turn away.
   */
  async function grantAndFinish(ctx: Context, interaction: Details, accountId: string) {
    const missing = interaction.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const clientId = String(interaction.params.client_id);
    const adminApi = adminResourceIdentifier(deps.config);
    if (missing.missingResourceScopes?.[adminApi] && !(await findActiveAccount(deps, accountId))?.isAdmin) {
      await finish(ctx, { error: 'access_denied', error_description: 'Only administrators may use the admin API.' }, false);
      return;
    }
    const { Grant } = providerOf(ctx);
    const grant = (interaction.grantId ? await Grant.find(interaction.grantId) : undefined) ?? new Grant({ accountId, clientId });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await recordConsent(deps, ctx.ip, {
      grantId: sha256(grantId),
      userId: accountId,
      clientId,
      scope: missing.missingOIDCScope?.join(' ') ?? '',
      resources: Object.fromEntries(Object.entries(missing.missingResourceScopes ?? {}).map(([indicator, scopes]) => [indicator, scopes.join(' ')])),
    });
    await finish(ctx, { consent: interaction.grantId ? {} : { grantId } }, true);
  }

  router.post('/confirm', async (ctx) => {
    const interaction = await details(ctx);
    const accountId = interaction.session?.accountId;
    if (interaction.prompt.name !== 'consent' || !accountId) throw new LatchkeyError('interaction.expired');
    await grantAndFinish(ctx, interaction, accountId);
  });

  router.post('/abort', async (ctx) => {
    await details(ctx);
    await finish(ctx, { error: 'access_denied', error_description: 'The user denied the request.' }, false);
  });

  return router;
}
