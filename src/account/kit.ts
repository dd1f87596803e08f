import type { Context, Middleware } from 'koa';
import { redirectAfterAction, submitForm, type FormProblem } from '../http/forms.js';
import type { Deps } from '../deps.js';
import type { Flash } from '../http/first-party/session.js';
import { renderPage } from '../http/render.js';
import type { AccountPrincipal } from './auth.js';

export const SECTIONS = [
  { id: 'profile', label: 'Profile', href: '/account' },
  { id: 'password', label: 'Password', href: '/account/password' },
  { id: 'apps', label: 'Connected apps', href: '/account/apps' },
  { id: 'sessions', label: 'Sessions', href: '/account/sessions' },
] as const;

export type Section = (typeof SECTIONS)[number]['id'];

/** What every section of the account page is built with. */
export interface AccountKit {
  readonly deps: Deps;
  /** Before every signed-in route: form parsing, the session check, CSRF. */
  readonly guard: Middleware[];
  /** Renders views/account/<section>.ejs inside the account page's frame. */
  page(ctx: Context, section: Section, title: string, locals?: Record<string, unknown>): Promise<void>;
  /** After an action: a message for the next page, and a 303 so a reload does not repeat the POST. */
  done(ctx: Context, to: string, message: string): void;
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

export function createKit(deps: Deps, guard: Middleware[], flash: Flash): AccountKit {
  return {
    deps,
    guard,
    async page(ctx, section, title, locals = {}) {
      ctx.type = 'html';
      ctx.body = await renderPage('account/frame', { title: `${title} · Your account` }, {
        view: section,
        sections: SECTIONS,
        section,
        user: principal(ctx).user,
        csrfToken: ctx.state.csrfToken as string,
        flash: flash.take(ctx),
        problem: null,
        when,
        ...locals,
      });
    },
    done: (ctx, to, message) => redirectAfterAction(ctx, flash, to, message),
    submit: submitForm,
  };
}
