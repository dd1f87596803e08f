import type { Context, Middleware } from 'koa';
import type { Deps } from '../../deps.js';
import { renderPage } from '../../http/render.js';
import type { AdminPrincipal } from '../auth.js';
import type { Flash } from '../../http/first-party/session.js';
import { redirectAfterAction, submitForm, type FormProblem } from '../../http/forms.js';

export const SECTIONS = [
  { id: 'clients', label: 'Clients', href: '/admin/clients' },
  { id: 'users', label: 'Users', href: '/admin/users' },
  { id: 'resources', label: 'APIs', href: '/admin/resources' },
  { id: 'tokens', label: 'Registration tokens', href: '/admin/tokens' },
  { id: 'audit', label: 'Audit log', href: '/admin/audit' },
  { id: 'mail', label: 'Mail', href: '/admin/mail' },
] as const;

export type Section = (typeof SECTIONS)[number]['id'];

/** What every section of the console is built with. */
export interface ConsoleKit {
  readonly deps: Deps;
  /** Before every signed-in route: form parsing, the admin check, CSRF. */
  readonly guard: Middleware[];
  /** Renders a page of `section` (views/admin/<view>.ejs) inside the console's frame. */
  page(ctx: Context, section: Section, view: string, title: string, locals?: Record<string, unknown>): Promise<void>;
  /** After an action: a message for the next page, and a 303 so a reload does not repeat the POST. */
  done(ctx: Context, to: string, message: string): void;
  /**
   * Runs a form's action; when the admin can fix what was refused, shows the form again with
   * the problem (status of the error) instead.
   */
  submit(ctx: Context, action: () => Promise<void>, showForm: (problem: FormProblem) => Promise<void>): Promise<void>;
}

export function principal(ctx: Context): AdminPrincipal {
  return ctx.state.principal as AdminPrincipal;
}

export function createKit(
  deps: Deps,
  guard: Middleware[],
  flash: Flash,
): ConsoleKit {
  return {
    deps,
    guard,
    async page(ctx, section, view, title, locals = {}) {
      ctx.type = 'html';
      ctx.body = await renderPage('admin/frame', { title: `${title} · Admin` }, {
        view: `${section}/${view}`,
        sections: SECTIONS,
        section,
        csrfToken: ctx.state.csrfToken as string,
        flash: flash.take(ctx),
        problem: null,
        ...locals,
      });
    },
    done: (ctx, to, message) => redirectAfterAction(ctx, flash, to, message),
    submit: submitForm,
  };
}
