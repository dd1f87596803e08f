import { bodyParser } from '@koa/bodyparser';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { errors } from 'oidc-provider';
import type { Deps } from '../deps.js';
import { authenticate, findActiveAccount } from '../domain/accounts.js';
import { adminResourceIdentifier } from '../domain/admin-access.js';
import { requiresMultiFactor } from '../domain/authentication-context.js';
import { recordConsent, recordFailedSignIn } from '../domain/sign-in-events.js';
import { assertNotThrottled, clearFailures, emailThrottle, recordFailure } from '../domain/throttle.js';
import { LatchkeyError } from '../errors.js';
import { loginOutcome } from '../metrics.js';
import { problemText } from '../http/forms.js';
import { pageCsrf } from '../http/middleware/page-csrf.js';
import { pageTranslator } from '../http/render.js';
import { sha256 } from '../util/digest.js';
import { cookieSecrets, type Provider } from '../oidc/provider.js';
import { createSignInFlow, type Details, type FirstFactor } from './flow.js';
import { describePermissions } from './permissions.js';
import { loginForm } from './forms.js';
import { passkeyRoutes } from './passkeys.js';
import { secondFactorRoutes } from './second-factor.js';
import { startUpstream, upstreamInteractionRoutes } from '../federation/sign-in.js';
import { enabledUpstreamProviders, homeRealmOf } from '../domain/upstream-providers.js';
import { signInStateOf } from './sign-in-state.js';

/** Login-prompt reasons a second factor answers, for a session that has proven the first. */
const STEP_UP_REASONS: ReadonlySet<string> = new Set(['mfa_required', 'essential_acr', 'essential_acrs']);

/**
 * The pages oidc-provider sends the browser to: sign-in (with its second factor) and consent.
 * Each handler reads the interaction, calls domain functions and hands the result on through
 * the sign-in flow (flow.ts), which alone finishes a sign-in.
 */
export function interactionsRouter(deps: Deps, provider: () => Provider): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const form = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });
  const csrf = pageCsrf({ keys: () => cookieSecrets(provider()), secure: deps.config.http.issuer.startsWith('https:') });
  const flow = createSignInFlow(deps);

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

  async function showLogin(ctx: Context, interaction: Details, state: { email: string; error: LatchkeyError | null; unverified?: boolean }) {
    const { link } = signInStateOf(interaction);
    await flow.render(ctx, interaction, 'login', 'login.title', {
      email: state.email,
      error: state.error && problemText(state.error),
      unverified: state.unverified ?? false,
      signupEnabled: deps.config.accounts.signup,
      // An upstream identity waits to be linked: the page says so, and whose account to prove.
      link: link ? { provider: link.providerName, email: link.email } : null,
      upstreams: (await enabledUpstreamProviders(deps)).map((upstream) => ({ id: upstream.id, name: upstream.displayName })),
    });
  }

  /**
   * Step-up: the session is signed in and only a second factor is missing (the request or the
   * client needs one). The first factor the session proved stands; the password is not asked again.
   */
  async function stepUpAccount(interaction: Details): Promise<FirstFactor | undefined> {
    const { reasons } = interaction.prompt;
    const session = interaction.session;
    if (!session?.accountId || !reasons.includes('mfa_required') || !reasons.every((reason) => STEP_UP_REASONS.has(reason))) return undefined;
    // The provider's own essential-acr checks fire too when the claims parameter names the level:
    // a second factor meets them only when every level named is a multi-factor one.
    if (reasons.length > 1 && !requiresMultiFactor(interaction.params, undefined)) return undefined;
    const user = await findActiveAccount(deps, session.accountId);
    if (!user) return undefined;
    const amr = Array.isArray(session.amr) && session.amr.length > 0 ? (session.amr as string[]) : ['pwd'];
    return { user, amr, multiFactor: false };
  }

  router.get('/', async (ctx) => {
    const interaction = await flow.details(ctx);
    if (interaction.prompt.name === 'login') {
      const stepUp = await stepUpAccount(interaction);
      if (stepUp) return flow.firstFactorDone(ctx, interaction, stepUp);
      const hint = interaction.params.login_hint;
      return showLogin(ctx, interaction, { email: typeof hint === 'string' ? hint : (signInStateOf(interaction).link?.email ?? ''), error: null });
    }
    if (interaction.prompt.name === 'consent') {
      const accountId = interaction.session?.accountId;
      const account = accountId ? await findActiveAccount(deps, accountId) : undefined;
      const client = await deps.catalog.client(String(interaction.params.client_id));
      // First-party applications are Latchkey's own or the operator's: no consent screen.
      if (account && client?.firstParty) return grantAndFinish(ctx, interaction, account.id);
      await flow.render(ctx, interaction, 'consent', 'consent.title', {
        accountEmail: account?.email ?? '',
        permissions: describePermissions(interaction.prompt.details, pageTranslator(ctx, interaction.params.ui_locales)),
        // The user allowed this application something before: the page lists only what is new.
        grantedBefore: interaction.grantId !== undefined,
      });
      return;
    }
    throw new LatchkeyError('interaction.expired');
  });

  router.post('/login', async (ctx) => {
    const interaction = await flow.details(ctx);
    if (interaction.prompt.name !== 'login') throw new LatchkeyError('interaction.expired');
    const submitted = loginForm(ctx.request.body);
    // Home-realm discovery: an address at a mapped domain signs in upstream, unless this sign-in proves an account to link.
    const realm = signInStateOf(interaction).link ? undefined : await homeRealmOf(deps, submitted.email);
    if (realm) return startUpstream(ctx, flow, interaction, realm, submitted.email);
    const throttle = emailThrottle(deps, 'login', submitted.email, ctx.ip);
    try {
      const standing = await assertNotThrottled(deps, throttle);
      const user = await authenticate(deps, submitted);
      deps.metrics.logins.inc({ outcome: 'success' });
      await clearFailures(deps, standing);
      await flow.firstFactorDone(ctx, interaction, { user, amr: ['pwd'], multiFactor: false });
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
      await flow.finish(ctx, { error: 'access_denied', error_description: 'Only administrators may use the admin API.' }, false);
      return;
    }
    const { Grant } = flow.provider(ctx);
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
    await flow.finish(ctx, { consent: interaction.grantId ? {} : { grantId } }, true);
  }

  router.post('/confirm', async (ctx) => {
    const interaction = await flow.details(ctx);
    const accountId = interaction.session?.accountId;
    if (interaction.prompt.name !== 'consent' || !accountId) throw new LatchkeyError('interaction.expired');
    await grantAndFinish(ctx, interaction, accountId);
  });

  router.post('/abort', async (ctx) => {
    await flow.details(ctx);
    await flow.finish(ctx, { error: 'access_denied', error_description: 'The user denied the request.' }, false);
  });

  secondFactorRoutes(router, flow);
  upstreamInteractionRoutes(router, flow);
  passkeyRoutes(router, flow, (ctx, interaction, error) => showLogin(ctx, interaction, { email: '', error }));
  return router;
}
