import type { Context, Middleware } from 'koa';
import { redirectAfterAction, submitForm, type FormProblem } from '../http/forms.js';
import type { Deps } from '../deps.js';
import type { Flash } from '../http/first-party/session.js';
import { pageTranslator, renderPage } from '../http/render.js';
import type { MessageKey, Params, Translate } from '../i18n/translate.js';
import type { AccountPrincipal } from './auth.js';

export const SECTIONS = [
  { id: 'profile', label: 'account.profile.title', href: '/account' },
  { id: 'password', label: 'account.password.title', href: '/account/password' },
  { id: 'security', label: 'account.security.title', href: '/account/security' },
  { id: 'apps', label: 'account.apps.title', href: '/account/apps' },
  { id: 'sessions', label: 'account.sessions.title', href: '/account/sessions' },
] as const satisfies ReadonlyArray<{ id: string; label: MessageKey; href: string }>;

export type Section = (typeof SECTIONS)[number]['id'];

/** What every section of the account page is built with. */
export interface AccountKit {
  readonly deps: Deps;
  /** Before every signed-in route: form parsing, the session check, CSRF. */
  readonly guard: Middleware[];
  /**
   * Renders views/account/<view>.ejs (by default the section's own) inside the account page's
   * frame, titled by the section's name.
   */
  page(ctx: Context, section: Section, locals?: Record<string, unknown>, view?: string): Promise<void>;
  /** After an action: a message for the next page (string params are data), and a 303 so a reload does not repeat the POST. */
  done(ctx: Context, to: string, key: MessageKey, params?: Params): void;
  /** Runs a form's action; when the user can fix what was refused, shows the form again with the problem. */
  submit(ctx: Context, action: () => Promise<void>, showForm: (problem: FormProblem) => Promise<void>): Promise<void>;
}

export function principal(ctx: Context): AccountPrincipal {
  return ctx.state.principal as AccountPrincipal;
}

/** Dates as people read them; the server does not know the reader's time zone. */
function when(date: Date | null | undefined): string {
  return date ? `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '—';
}

/**
 * What to show beside a field of a refused form, in the reader's language: the field's own
 * problem; with `orProblem`, the form's problem when the field has none (a form of one field).
 */
function fieldErrors(t: Translate) {
  return (problem: FormProblem | null, field: string, orProblem = false): string | null => {
    if (!problem) return null;
    const own = problem.fields[field];
    if (own !== undefined) return t.message(own);
    if (!orProblem) return null;
    return problem.key ? t(problem.key) : t.message(problem.message);
  };
}

export function createKit(deps: Deps, guard: Middleware[], flash: Flash): AccountKit {
  return {
    deps,
    guard,
    async page(ctx, section, locals = {}, view = section) {
      const title = SECTIONS.find((entry) => entry.id === section)!.label;
      ctx.type = 'html';
      ctx.body = await renderPage(ctx, 'account/frame', { title, section: 'account.section', theme: deps.config.theme }, {
        view,
        sections: SECTIONS,
        section,
        user: principal(ctx).user,
        csrfToken: ctx.state.csrfToken as string,
        flash: flash.take(ctx),
        problem: null,
        when,
        fieldError: fieldErrors(pageTranslator(ctx)),
        ...locals,
      });
    },
    done: (ctx, to, key, params) => redirectAfterAction(ctx, flash, to, key, params),
    submit: submitForm,
  };
}
