import { randomBytes } from 'node:crypto';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { Deps } from '../deps.js';
import { findActiveAccount } from '../domain/accounts.js';
import { recordAudit, type Actor } from '../domain/audit.js';
import { linkIdentity } from '../domain/identities.js';
import { upstreamRedirectUri } from '../domain/upstream-providers.js';
import { recordUserCreated } from '../domain/users.js';
import { LatchkeyError } from '../errors.js';
import { pageTranslator, renderPage } from '../http/render.js';
import type { MessageKey } from '../i18n/translate.js';
import type { Details, SignInFlow } from '../interactions/flow.js';
import { saveSignInState, signInStateOf, type UpstreamAnswer } from '../interactions/sign-in-state.js';
import type { Provider } from '../oidc/provider.js';
import { findProvider, type UpstreamProviderRow } from '../store/upstream-providers.js';
import { findIdentity, touchIdentity } from '../store/upstream-identities.js';
import { consumeUpstreamSignIn, insertUpstreamSignIn } from '../store/upstream-sign-ins.js';
import { findUserByEmail, insertUser, type UserRow } from '../store/users.js';
import { sha256 } from '../util/digest.js';
import { authorizationUrl, redeemCallback, UpstreamFailure, type UpstreamFailureReason } from './upstream-client.js';

/** How long a trip upstream may take, from the button to the callback. */
const TRIP_SECONDS = 600;

/** What the failure page says for each reason, in the user's words. */
const REASON_TEXT: Record<UpstreamFailureReason, MessageKey> = {
  state_invalid: 'upstream.error.state_invalid',
  denied: 'upstream.error.denied',
  upstream_error: 'upstream.error.upstream_error',
  provider_unavailable: 'upstream.error.provider_unavailable',
  upstream_unreachable: 'upstream.error.unreachable',
  token_exchange_failed: 'upstream.error.rejected',
  id_token_invalid: 'upstream.error.rejected',
  response_invalid: 'upstream.error.rejected',
  email_missing: 'upstream.error.email_missing',
  email_unverified: 'upstream.error.email_unverified',
  signup_disabled: 'upstream.error.signup_disabled',
  account_disabled: 'upstream.error.account_disabled',
};

/** An upstream that fails or answers what cannot be checked is a bad gateway; a refusal (the user's, the rules') is 400 unless named here. */
const STATUS: Partial<Record<UpstreamFailureReason, number>> = {
  upstream_unreachable: 502,
  token_exchange_failed: 502,
  id_token_invalid: 502,
  response_invalid: 502,
  signup_disabled: 403,
  account_disabled: 403,
};

/**
 * The cookie that ties a trip to the browser that started it, one per trip (a second tab starts
 * its own), sent only to the provider's callback.
 */
function browserCookie(stateHash: string): string {
  return `latchkey_upstream_${stateHash.slice(0, 16)}`;
}

function browserCookieOptions(deps: Deps, providerId: string) {
  return {
    path: new URL(upstreamRedirectUri(deps, providerId)).pathname,
    httpOnly: true,
    // Lax: the upstream's redirect back is a top-level GET, which carries it.
    sameSite: 'lax' as const,
    secure: deps.config.http.issuer.startsWith('https:'),
    signed: false,
    overwrite: true,
  };
}

function sealContext(stateHash: string): string {
  return `upstream_code_verifier:${stateHash}`;
}

function anonymous(ctx: Context): Actor {
  return { type: 'anonymous', id: null, ip: ctx.ip };
}

/**
 * A trip upstream that ended without a sign-in: audited with its reason, and a Latchkey page that
 * says what happened, with the way back to the login page when the interaction is known.
 */
async function failurePage(ctx: Context, deps: Deps, failure: UpstreamFailure, where: { providerId: string; uid: string | undefined; uiLocales?: unknown; flow?: { flow: SignInFlow; interaction: Details } }) {
  // The provider id and the upstream's error come from the URL: PostgreSQL text takes no control characters.
  const printable = (value: string, length: number) => value.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, length);
  const providerId = printable(where.providerId, 100);
  await recordAudit(deps.db.knex, anonymous(ctx), {
    type: 'upstream.sign_in_failed',
    outcome: 'failure',
    subject: { type: 'upstream_provider', id: providerId },
    details: { reason: failure.reason, detail: printable(failure.message, 300) },
  });
  // The message only: the errors underneath can hold the upstream's tokens.
  deps.log.info({ provider: providerId, reason: failure.reason, detail: failure.message }, 'upstream sign-in failed');
  ctx.status = STATUS[failure.reason] ?? 400;
  ctx.set('Cache-Control', 'no-store');
  const locals = { reasonKey: REASON_TEXT[failure.reason], reason: failure.reason, retryHref: where.uid ? `/interaction/${where.uid}` : null };
  if (where.flow) return where.flow.flow.render(ctx, where.flow.interaction, 'upstream-error', 'upstream.error.title', locals);
  ctx.type = 'html';
  const t = pageTranslator(ctx, where.uiLocales);
  ctx.body = await renderPage(ctx, 'interactions/upstream-error', { title: 'upstream.error.title', theme: deps.config.theme, uiLocales: where.uiLocales }, {
    ...locals,
    accountHref: '/account',
    accountLabel: t('error.to_account', { product: deps.config.theme.name }),
  });
}

/**
 * Sends the browser to the upstream's sign-in. The trip (state digest, sealed PKCE verifier,
 * nonce, interaction) waits in the database for the callback, which any node may receive.
 */
export async function startUpstream(ctx: Context, flow: SignInFlow, interaction: Details, upstream: UpstreamProviderRow, loginHint: string | undefined): Promise<void> {
  const { deps } = flow;
  const trip = { state: oidc.randomState(), codeVerifier: oidc.randomPKCECodeVerifier(), nonce: oidc.randomNonce() };
  let url: URL;
  try {
    url = await authorizationUrl(deps, upstream, trip, loginHint);
  } catch (error) {
    if (!(error instanceof UpstreamFailure)) throw error;
    return failurePage(ctx, deps, error, { providerId: upstream.id, uid: interaction.uid, flow: { flow, interaction } });
  }
  const stateHash = sha256(trip.state);
  const browserSecret = randomBytes(32).toString('base64url');
  await insertUpstreamSignIn(deps.db.knex, {
    stateHash,
    providerId: upstream.id,
    interactionUid: interaction.uid,
    browserHash: sha256(browserSecret),
    sealedCodeVerifier: deps.sealer.seal(trip.codeVerifier, sealContext(stateHash)),
    nonce: trip.nonce,
    expiresAt: new Date(Date.now() + TRIP_SECONDS * 1000),
  });
  ctx.cookies.set(browserCookie(stateHash), browserSecret, { ...browserCookieOptions(deps, upstream.id), maxAge: TRIP_SECONDS * 1000 });
  ctx.status = 303;
  ctx.redirect(url.href);
}

/**
 * GET /upstream/:provider/callback, the redirect URI registered upstream. The interaction's
 * cookie does not reach this path, so the trip is found by its state (once); the checked answer
 * is kept on the interaction, and the browser goes on to /interaction/:uid/upstream, where its
 * cookie proves it is the browser that started.
 */
export function upstreamCallbackRouter(deps: Deps, provider: () => Provider): Router {
  const router = new Router();
  router.get('/upstream/:provider/callback', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const providerId = ctx.params.provider!;
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    const stateHash = sha256(state);
    const browserSecret = ctx.cookies.get(browserCookie(stateHash), { signed: false });
    // Only the browser that started the trip may end it: a state is the starter's, not a bearer
    // token. Anyone else's browser (sent a crafted link) leaves the trip untouched.
    const trip = state && browserSecret ? await consumeUpstreamSignIn(deps.db.knex, stateHash, sha256(browserSecret)) : undefined;
    if (!trip || trip.providerId !== providerId || trip.expiresAt.getTime() < Date.now()) {
      const failure = new UpstreamFailure('state_invalid', state ? 'no sign-in under way in this browser has this state: forged, used already, expired or started elsewhere' : 'the callback carries no state');
      return failurePage(ctx, deps, failure, { providerId, uid: undefined });
    }
    ctx.cookies.set(browserCookie(stateHash), null, browserCookieOptions(deps, providerId));
    const oidcProvider = provider();
    const interaction = await oidcProvider.Interaction.find(trip.interactionUid);
    if (!interaction) throw new LatchkeyError('interaction.expired');
    const where = { providerId, uid: trip.interactionUid, uiLocales: interaction.params.ui_locales };
    const upstream = await findProvider(deps.db.knex, providerId);
    if (!upstream?.enabled) return failurePage(ctx, deps, new UpstreamFailure('provider_unavailable', 'the provider was disabled or deleted meanwhile'), where);
    const error = ctx.query.error;
    if (typeof error === 'string') {
      const reason = error === 'access_denied' ? 'denied' : 'upstream_error';
      return failurePage(ctx, deps, new UpstreamFailure(reason, `the upstream answered ${error.slice(0, 100)}`), where);
    }
    const callback = new URL(upstreamRedirectUri(deps, providerId));
    callback.search = ctx.querystring;
    let answer: UpstreamAnswer;
    try {
      answer = await redeemCallback(deps, upstream, callback, {
        state,
        codeVerifier: deps.sealer.open(trip.sealedCodeVerifier, sealContext(trip.stateHash)),
        nonce: trip.nonce,
      });
    } catch (caught) {
      if (!(caught instanceof UpstreamFailure)) throw caught;
      return failurePage(ctx, deps, caught, where);
    }
    await saveSignInState(oidcProvider, trip.interactionUid, { ...signInStateOf(interaction), upstream: answer });
    ctx.status = 303;
    ctx.redirect(`/interaction/${trip.interactionUid}/upstream`);
  });
  return router;
}

/** A first sign-in through an upstream: the account, with the upstream's verified address and no password. */
async function createUpstreamUser(deps: Deps, ctx: Context, answer: UpstreamAnswer & { email: string }): Promise<UserRow> {
  return deps.db.knex.transaction(async (trx) => {
    const user = await insertUser(trx, { email: answer.email, name: answer.name, passwordHash: null, emailVerified: true, isAdmin: false, createdVia: 'upstream' });
    const actor: Actor = { type: 'user', id: user.id, ip: ctx.ip };
    await recordUserCreated(trx, actor, user, { provider: answer.providerId });
    await linkIdentity(deps, actor, { providerId: answer.providerId, subject: answer.subject, userId: user.id, email: answer.email }, { trx });
    return user;
  });
}

/** The routes under /interaction/:uid: the buttons' POST, and where the callback hands over. */
export function upstreamInteractionRoutes(router: Router, flow: SignInFlow): void {
  const { deps } = flow;

  router.post('/upstream/:provider', async (ctx) => {
    const interaction = await flow.details(ctx);
    if (interaction.prompt.name !== 'login') throw new LatchkeyError('interaction.expired');
    const upstream = await findProvider(deps.db.knex, ctx.params.provider!);
    if (!upstream?.enabled) throw new LatchkeyError('upstream_provider.not_found');
    const hint = interaction.params.login_hint;
    await startUpstream(ctx, flow, interaction, upstream, typeof hint === 'string' ? hint : undefined);
  });

  router.get('/upstream', async (ctx) => {
    const interaction = await flow.details(ctx);
    if (interaction.prompt.name !== 'login') throw new LatchkeyError('interaction.expired');
    const { upstream: answer, ...state } = signInStateOf(interaction);
    if (!answer) throw new LatchkeyError('interaction.expired');
    // The answer is used once: a reload of this page does not sign in again.
    await saveSignInState(flow.provider(ctx), interaction.uid, state);
    const fail = (reason: UpstreamFailureReason, message: string) =>
      failurePage(ctx, deps, new UpstreamFailure(reason, message), { providerId: answer.providerId, uid: interaction.uid, flow: { flow, interaction } });

    const identity = await findIdentity(deps.db.knex, answer.providerId, answer.subject);
    if (identity) {
      const user = await findActiveAccount(deps, identity.userId);
      if (!user) return fail('account_disabled', 'the linked account is disabled');
      await touchIdentity(deps.db.knex, identity.id, answer.email !== null && answer.emailVerified ? answer.email : identity.email);
      return flow.firstFactorDone(ctx, interaction, { user, amr: ['fed'], multiFactor: false });
    }
    if (answer.email === null) return fail('email_missing', 'the upstream gave no email address');
    // An address the upstream does not vouch for could be anyone's: it neither finds nor makes an account.
    if (!answer.emailVerified) return fail('email_unverified', 'the upstream has not verified the address');
    const email = answer.email;
    const existing = await findUserByEmail(deps.db.knex, email);
    if (!existing && !deps.config.accounts.signup) return fail('signup_disabled', 'no account has this address and sign-up is off');
    let user: UserRow | undefined;
    if (!existing) {
      try {
        user = await createUpstreamUser(deps, ctx, { ...answer, email });
      } catch (error) {
        // Taken meanwhile: it is an existing account after all.
        if (!(error instanceof LatchkeyError && error.code === 'user.email_taken')) throw error;
      }
    }
    if (user) return flow.firstFactorDone(ctx, interaction, { user, amr: ['fed'], multiFactor: false });
    const owner = existing ?? (await findUserByEmail(deps.db.knex, email))!;
    // Linked only once the account is proven here, with everything it asks for (flow.complete).
    const upstream = await findProvider(deps.db.knex, answer.providerId);
    await saveSignInState(flow.provider(ctx), interaction.uid, {
      ...state,
      link: { providerId: answer.providerId, providerName: upstream?.displayName ?? answer.providerId, subject: answer.subject, email: owner.email, userId: owner.id },
    });
    ctx.status = 303;
    ctx.redirect(`/interaction/${interaction.uid}`);
  });
}
