import { bodyParser } from '@koa/bodyparser';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import type { Deps } from '../deps.js';
import type { Actor } from '../domain/audit.js';
import { describeDuration, resendVerification, verificationTarget, verifyEmail } from '../domain/email-verification.js';
import { passwordResetTarget, requestPasswordReset, resetPassword } from '../domain/password-reset.js';
import { signUp } from '../domain/signup.js';
import { assertNotThrottled, emailThrottle, recordFailure } from '../domain/throttle.js';
import { LatchkeyError } from '../errors.js';
import { problemText } from '../http/forms.js';
import { pageCsrf } from '../http/middleware/page-csrf.js';
import { pageTranslator, renderPage } from '../http/render.js';
import type { MessageKey, Translate } from '../i18n/translate.js';
import { safeReturnPath } from '../http/return-path.js';
import { cookieSecrets, type Provider } from '../oidc/provider.js';
import { emailForm, newPasswordForm, signupForm, tokenForm } from './forms.js';

const DURATION_KEYS = new Set<string>(['day', 'days', 'hour', 'hours', 'minute', 'minutes', 'second', 'seconds']);

/** How long a link lasts, as the mail says it ("30 minutes"), in the reader's language. */
function lifetime(t: Translate, seconds: number): string {
  const described = describeDuration(seconds);
  const [count = '', unit = ''] = described.split(' ');
  return DURATION_KEYS.has(unit) ? t(`duration.${unit}` as MessageKey, { count }) : described;
}

/**
 * The pages reached from the sign-in page or from an email: sign-up, email confirmation and
 * password reset. None has a session; forms carry the cookie-bound CSRF token, and the only
 * place a page sends the browser on to is a return path checked by safeReturnPath.
 */
export function selfServiceRouter(deps: Deps, provider: () => Provider): Router {
  const router = new Router();
  const form = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });
  const csrf = pageCsrf({ keys: () => cookieSecrets(provider()), secure: deps.config.http.issuer.startsWith('https:') });
  const { accounts } = deps.config;

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.use(form, csrf);

  const anonymous = (ctx: Context): Actor => ({ type: 'anonymous', id: null, ip: ctx.ip });
  const query = (ctx: Context, name: string): string => {
    const value = ctx.query[name];
    return typeof value === 'string' ? value : '';
  };

  async function show(ctx: Context, view: string, title: MessageKey, locals: Record<string, unknown>, status = 200) {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = await renderPage(ctx, `self-service/${view}`, { title, theme: deps.config.theme }, { csrfToken: ctx.state.csrfToken as string, problem: null, ...locals });
  }
  const lasts = (ctx: Context, seconds: number) => lifetime(pageTranslator(ctx), seconds);

  /**
   * Each request counts against its address and the network whether or not an account has the
   * address: these forms send mail, and the count is what keeps them from being used to flood an inbox.
   */
  async function countRequest(ctx: Context, action: 'signup' | 'reset' | 'verify', email: string) {
    const keys = emailThrottle(deps, action, email, ctx.ip);
    await assertNotThrottled(deps, keys);
    await recordFailure(deps, keys);
  }

  /** A refusal the person can act on shows the form again: field errors beside their fields, or how long to wait. */
  async function showProblem(ctx: Context, error: unknown, view: string, title: MessageKey, locals: Record<string, unknown>) {
    if (!(error instanceof LatchkeyError) || !['input.invalid', 'auth.throttled'].includes(error.code)) throw error;
    if (error.retryAfter !== undefined) ctx.set('Retry-After', String(error.retryAfter));
    const text = error.code === 'input.invalid' ? ({ message: 'Some details need changing: see the fields below.', key: 'form.fix_fields' } as const) : problemText(error);
    await show(ctx, view, title, { ...locals, problem: { ...text, fields: error.details ?? {} } }, error.status);
  }

  function assertSignupOpen() {
    if (!accounts.signup) throw new LatchkeyError('signup.disabled');
  }

  const signupPage = { view: 'signup', title: 'signup.title' } as const;
  router.get('/signup', async (ctx) => {
    assertSignupOpen();
    await show(ctx, signupPage.view, signupPage.title, { returnTo: safeReturnPath(query(ctx, 'return_to')), name: '', email: '', minLength: accounts.passwordMinLength });
  });

  router.post('/signup', async (ctx) => {
    assertSignupOpen();
    const submitted = signupForm(ctx.request.body);
    const returnTo = safeReturnPath(submitted.returnTo);
    try {
      await countRequest(ctx, 'signup', submitted.email);
      await signUp(deps, anonymous(ctx), submitted, { returnTo });
    } catch (error) {
      const locals = { returnTo, name: submitted.name ?? '', email: submitted.email, minLength: accounts.passwordMinLength };
      return showProblem(ctx, error, signupPage.view, signupPage.title, locals);
    }
    await show(ctx, 'signup-sent', 'self_service.check_email', { email: submitted.email.trim(), lasts: lasts(ctx, accounts.emailLinkTtl), returnTo });
  });

  // Confirming takes a POST: mail scanners open links in emails, and that must not use them up.
  router.get('/verify-email', async (ctx) => {
    const token = query(ctx, 'token');
    const target = await verificationTarget(deps, token);
    await show(ctx, 'verify-email', 'verify_email.title', { token, email: target.email });
  });

  router.post('/verify-email', async (ctx) => {
    const verified = await verifyEmail(deps, anonymous(ctx), tokenForm(ctx.request.body).token);
    await show(ctx, 'email-confirmed', 'email_confirmed.title', { email: verified.email, changed: verified.changed, continueTo: safeReturnPath(verified.returnTo) });
  });

  router.post('/verify-email/resend', async (ctx) => {
    const submitted = emailForm(ctx.request.body);
    const returnTo = safeReturnPath(submitted.returnTo);
    await countRequest(ctx, 'verify', submitted.email);
    await resendVerification(deps, submitted.email, { returnTo });
    await show(ctx, 'resend-sent', 'self_service.check_email', { lasts: lasts(ctx, accounts.emailLinkTtl), returnTo });
  });

  const forgotPage = { view: 'forgot-password', title: 'forgot_password.title' } as const;
  router.get('/password/forgot', async (ctx) => {
    await show(ctx, forgotPage.view, forgotPage.title, { returnTo: safeReturnPath(query(ctx, 'return_to')), email: '' });
  });

  router.post('/password/forgot', async (ctx) => {
    const submitted = emailForm(ctx.request.body);
    const returnTo = safeReturnPath(submitted.returnTo);
    try {
      await countRequest(ctx, 'reset', submitted.email);
      await requestPasswordReset(deps, anonymous(ctx), submitted.email, { returnTo });
    } catch (error) {
      return showProblem(ctx, error, forgotPage.view, forgotPage.title, { returnTo, email: submitted.email });
    }
    await show(ctx, 'reset-sent', 'self_service.check_email', { email: submitted.email.trim(), lasts: lasts(ctx, accounts.resetLinkTtl), returnTo });
  });

  const resetPage = { view: 'reset-password', title: 'reset_password.title' } as const;
  router.get('/password/reset', async (ctx) => {
    const token = query(ctx, 'token');
    const target = await passwordResetTarget(deps, token);
    await show(ctx, resetPage.view, resetPage.title, { token, email: target.email, minLength: accounts.passwordMinLength });
  });

  router.post('/password/reset', async (ctx) => {
    const submitted = newPasswordForm(ctx.request.body);
    let returnTo: string | null;
    try {
      ({ returnTo } = await resetPassword(deps, anonymous(ctx), submitted.token, submitted.password));
    } catch (error) {
      // A link that stopped working has its own page; only a refused password shows the form again.
      if (!(error instanceof LatchkeyError) || error.code !== 'input.invalid') throw error;
      const target = await passwordResetTarget(deps, submitted.token);
      return showProblem(ctx, error, resetPage.view, resetPage.title, { token: submitted.token, email: target.email, minLength: accounts.passwordMinLength });
    }
    await show(ctx, 'password-changed', 'password_changed.title', { continueTo: safeReturnPath(returnTo) });
  });

  return router;
}
