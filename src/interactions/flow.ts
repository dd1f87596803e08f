import type { Context } from 'koa';
import type { InteractionResults } from 'oidc-provider';
import type { Deps } from '../deps.js';
import { findActiveAccount } from '../domain/accounts.js';
import { acrFor, combinedAmr, requiresMultiFactor, type SecondFactorMethod } from '../domain/authentication-context.js';
import { factorsOf, hasSecondFactor } from '../domain/factors/summary.js';
import { linkIdentity } from '../domain/identities.js';
import { recordSignIn } from '../domain/sign-in-events.js';
import { LatchkeyError } from '../errors.js';
import { pageTranslator, renderPage } from '../http/render.js';
import type { MessageKey } from '../i18n/translate.js';
import type { Provider } from '../oidc/provider.js';
import type { UserRow } from '../store/users.js';
import { saveSignInState, signInStateOf, type PendingSignIn } from './sign-in-state.js';

export type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface ClientPresentation {
  name: string;
  logoUri: string | undefined;
  policyUri: string | undefined;
  tosUri: string | undefined;
}

/** A first factor the user has just proven. */
export interface FirstFactor {
  user: UserRow;
  /** RFC 8176 methods: ['pwd'], ['hwk'] or ['swk'] for a passkey, ['fed'] for an upstream provider. */
  amr: string[];
  /** A passkey with user verification is two factors on its own: nothing more is asked. */
  multiFactor: boolean;
}

/**
 * The steps of signing in that every way in shares: after a first factor comes the second (or,
 * where one is required and none is enrolled, setting one up), then the application. Routes
 * for each factor call these; none of them finishes an interaction itself.
 */
export interface SignInFlow {
  readonly deps: Deps;
  provider(ctx: Context): Provider;
  /** The interaction this browser is in; its uid must be the one in the URL. */
  details(ctx: Context): Promise<Details>;
  clientOf(ctx: Context, interaction: Details): Promise<ClientPresentation>;
  /** Renders views/interactions/<view>.ejs in the layout, with the interaction's uid, client and CSRF token. */
  render(ctx: Context, interaction: Details, view: string, title: MessageKey, locals?: Record<string, unknown>): Promise<void>;
  /** Hands the interaction's result to the provider and sends the browser on. */
  finish(ctx: Context, result: InteractionResults, merge: boolean): Promise<void>;
  firstFactorDone(ctx: Context, interaction: Details, factor: FirstFactor): Promise<void>;
  /** The pending sign-in's second factor is proven. */
  secondFactorDone(ctx: Context, interaction: Details, pending: PendingSignIn, method: SecondFactorMethod): Promise<void>;
  /** The second factor is proven, and a page (`view`) tells the user something first; its Continue finishes. */
  provenWithNotice(ctx: Context, interaction: Details, pending: PendingSignIn, method: SecondFactorMethod, view: string, title: MessageKey, locals: Record<string, unknown>): Promise<void>;
  /**
   * A factor was set up during sign-in (step-up for a user who had none), which proves it too.
   * New recovery codes are shown once before the application.
   */
  factorEnrolled(ctx: Context, interaction: Details, pending: PendingSignIn, method: SecondFactorMethod, recoveryCodes: string[] | undefined): Promise<void>;
  /** The sign-in, finished: the account proven, how, and whether with two factors. */
  complete(ctx: Context, interaction: Details, user: UserRow, amr: string[], multiFactor: boolean): Promise<void>;
}

export function createSignInFlow(deps: Deps): SignInFlow {
  const providerOf = (ctx: Context) => ctx.state.provider as Provider;

  async function requiresTwo(interaction: Details): Promise<boolean> {
    const client = await deps.catalog.client(String(interaction.params.client_id));
    return requiresMultiFactor(interaction.params, client?.metadata as Record<string, unknown> | undefined);
  }

  async function account(accountId: string): Promise<UserRow> {
    const user = await findActiveAccount(deps, accountId);
    // Disabled or deleted between the two factors: this sign-in is over.
    if (!user) throw new LatchkeyError('interaction.expired');
    return user;
  }

  const flow: SignInFlow = {
    deps,
    provider: providerOf,

    async details(ctx) {
      const found = await providerOf(ctx).interactionDetails(ctx.req, ctx.res);
      // The interaction cookie is bound to its uid; a uid in the URL that is not that one is stale.
      if (found.uid !== ctx.params.uid) throw new LatchkeyError('interaction.expired');
      return found;
    },

    async clientOf(ctx, interaction) {
      const clientId = interaction.params.client_id;
      const client = typeof clientId === 'string' ? await providerOf(ctx).Client.find(clientId) : undefined;
      return {
        name: client?.clientName ?? (typeof clientId === 'string' ? clientId : pageTranslator(ctx, interaction.params.ui_locales)('common.the_application')),
        logoUri: client?.logoUri,
        policyUri: client?.policyUri,
        tosUri: client?.tosUri,
      };
    },

    async render(ctx, interaction, view, title, locals = {}) {
      ctx.type = 'html';
      ctx.body = await renderPage(
        ctx,
        `interactions/${view}`,
        { title, theme: deps.config.theme, uiLocales: interaction.params.ui_locales, returnTo: `/interaction/${interaction.uid}` },
        { uid: interaction.uid, client: await flow.clientOf(ctx, interaction), csrfToken: ctx.state.csrfToken as string, ...locals },
      );
    },

    async finish(ctx, result, merge) {
      const redirectTo = await providerOf(ctx).interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
      // 303: the browser follows a POST with a GET.
      ctx.status = 303;
      ctx.redirect(redirectTo);
    },

    async firstFactorDone(ctx, interaction, factor) {
      if (factor.multiFactor) return flow.complete(ctx, interaction, factor.user, factor.amr, true);
      const [factors, required] = await Promise.all([factorsOf(deps, factor.user.id), requiresTwo(interaction)]);
      const enrolled = hasSecondFactor(factors);
      if (!enrolled && !required) return flow.complete(ctx, interaction, factor.user, factor.amr, false);
      // An upstream's answer, once used for this first factor, is not kept to be used again.
      const { link } = signInStateOf(interaction);
      const pending: PendingSignIn = { accountId: factor.user.id, amr: factor.amr, at: Math.floor(Date.now() / 1000), needsEnrolment: !enrolled };
      await saveSignInState(providerOf(ctx), interaction.uid, link ? { link, pending } : { pending });
      ctx.status = 303;
      ctx.redirect(`/interaction/${interaction.uid}/mfa${enrolled ? '' : '/enrol'}`);
    },

    async secondFactorDone(ctx, interaction, pending, method) {
      await flow.complete(ctx, interaction, await account(pending.accountId), combinedAmr(pending.amr, method), true);
    },

    async provenWithNotice(ctx, interaction, pending, method, view, title, locals) {
      const state = signInStateOf(interaction);
      await saveSignInState(providerOf(ctx), interaction.uid, { ...state, pending: { ...pending, needsEnrolment: false, proven: method } });
      await flow.render(ctx, interaction, view, title, locals);
    },

    async factorEnrolled(ctx, interaction, pending, method, recoveryCodes) {
      if (!recoveryCodes) return flow.secondFactorDone(ctx, interaction, pending, method);
      // Shown once, here; the page's Continue (POST .../mfa/continue) finishes the sign-in.
      await flow.provenWithNotice(ctx, interaction, pending, method, 'recovery-codes', 'mfa.recovery_codes.title', { recoveryCodes });
    },

    async complete(ctx, interaction, user, amr, multiFactor) {
      const { link } = signInStateOf(interaction);
      const clientId = String(interaction.params.client_id);
      const actor = { type: 'user' as const, id: user.id, ip: ctx.ip };
      // Proven here, with everything this account asks for: now the upstream identity may join it.
      if (link && link.userId === user.id) {
        await linkIdentity(deps, actor, { providerId: link.providerId, subject: link.subject, userId: user.id, email: link.email });
      }
      await recordSignIn(deps, ctx.ip, user, clientId, amr);
      await flow.finish(ctx, { login: { accountId: user.id, amr, acr: acrFor(multiFactor, interaction.params), remember: true, ts: Math.floor(Date.now() / 1000) } }, false);
    },

  };
  return flow;
}
