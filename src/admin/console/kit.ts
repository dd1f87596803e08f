import type { Context, Middleware } from 'koa';
import type { Deps } from '../../deps.js';
import { renderPage } from '../../http/render.js';
import { Html, literal, type MessageKey, type Params } from '../../i18n/translate.js';
import type { AdminPrincipal } from '../auth.js';
import type { Flash } from '../../http/first-party/session.js';
import { redirectAfterAction, submitForm, type FormProblem } from '../../http/forms.js';

/** How long a rotated-out secret keeps working, for the rotate forms of clients and webhooks. */
export const SECRET_GRACE_CHOICES = [
  { value: '0', label: 'admin.secret_grace.none' },
  { value: '3600', label: 'admin.secret_grace.hour' },
  { value: '86400', label: 'admin.secret_grace.day' },
  { value: '604800', label: 'admin.secret_grace.week' },
] as const satisfies ReadonlyArray<{ value: string; label: MessageKey }>;

export const SECTIONS = [
  { id: 'clients', label: 'admin.clients.title', href: '/admin/clients' },
  { id: 'users', label: 'admin.users.title', href: '/admin/users' },
  { id: 'resources', label: 'admin.resources.title', href: '/admin/resources' },
  { id: 'token-exchange', label: 'admin.token_exchange.title', href: '/admin/token-exchange' },
  { id: 'upstream-providers', label: 'admin.upstream.title', href: '/admin/upstream-providers' },
  { id: 'tokens', label: 'admin.tokens.title', href: '/admin/tokens' },
  { id: 'webhooks', label: 'admin.webhooks.title', href: '/admin/webhooks' },
  { id: 'audit', label: 'admin.audit.title', href: '/admin/audit' },
  { id: 'mail', label: 'admin.mail.title', href: '/admin/mail' },
] as const satisfies ReadonlyArray<{ id: string; label: MessageKey; href: string }>;

export type Section = (typeof SECTIONS)[number]['id'];

/** A page's name in the tab: a message, or a message with the values of its placeholders. */
export type PageTitle = MessageKey | { key: MessageKey; params: Params };

/** What every section of the console is built with. */
export interface ConsoleKit {
  readonly deps: Deps;
  /** Before every signed-in route: form parsing, the admin check, CSRF. */
  readonly guard: Middleware[];
  /** Renders a page of `section` (views/admin/<view>.ejs) inside the console's frame. */
  page(ctx: Context, section: Section, view: string, title: PageTitle, locals?: Record<string, unknown>): Promise<void>;
  /**
   * After an action: a message for the next page, and a 303 so a reload does not repeat the POST.
   * The values of its placeholders are data (names, addresses), shown as they are.
   */
  done(ctx: Context, to: string, message: MessageKey, params?: Params): void;
  /**
   * Runs a form's action; when the admin can fix what was refused, shows the form again with
   * the problem (status of the error) instead. The views say the problem in the admin's language.
   */
  submit(ctx: Context, action: () => Promise<void>, showForm: (problem: FormProblem) => Promise<void>): Promise<void>;
}

export function principal(ctx: Context): AdminPrincipal {
  return ctx.state.principal as AdminPrincipal;
}

/** Data visible only to screen readers, after a link's words ("Edit" + the row's name). */
function hidden(value: string): Html {
  return new Html(`<span class="visually-hidden">${literal(value).html}</span>`);
}

export function createKit(deps: Deps, guard: Middleware[], flash: Flash): ConsoleKit {
  return {
    deps,
    guard,
    async page(ctx, section, view, title, locals = {}) {
      const page = typeof title === 'string' ? { title } : { title: title.key, titleParams: title.params };
      ctx.type = 'html';
      ctx.body = await renderPage(ctx, 'admin/frame', { ...page, section: 'admin.section', theme: deps.config.theme }, {
        view: `${section}/${view}`,
        sections: SECTIONS,
        section,
        csrfToken: ctx.state.csrfToken as string,
        flash: flash.take(ctx),
        problem: null,
        hidden,
        ...locals,
      });
    },
    done: (ctx, to, message, params = {}) => redirectAfterAction(ctx, flash, to, message, params),
    submit: submitForm,
  };
}
