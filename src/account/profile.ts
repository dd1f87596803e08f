import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { formBody, optional, text, type FormProblem } from '../http/forms.js';
import { requestEmailChange } from '../domain/email-verification.js';
import { updateUser } from '../domain/users.js';
import { principal, type AccountKit } from './kit.js';

interface ProfileForms {
  name: string;
  newEmail: string;
  nameProblem: FormProblem | null;
  emailProblem: FormProblem | null;
}

/** /account: the user's name, and their email address, which changes only once the new one is confirmed. */
export function profileRoutes(router: Router, kit: AccountKit): void {
  const { deps, guard } = kit;

  const show = (ctx: Context, forms: Partial<ProfileForms> = {}) =>
    kit.page(ctx, 'profile', {
      name: principal(ctx).user.name ?? '',
      newEmail: '',
      nameProblem: null,
      emailProblem: null,
      ...forms,
    });

  router.get('/', ...guard, (ctx) => show(ctx));

  router.post('/profile', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    const { user, actor } = principal(ctx);
    await kit.submit(
      ctx,
      async () => {
        // An emptied name clears it.
        await updateUser(deps, actor, user.id, { name: optional(body, 'name') ?? null });
        kit.done(ctx, '/account', 'account.profile.name_saved');
      },
      (problem) => show(ctx, { name: text(body, 'name'), nameProblem: problem }),
    );
  });

  router.post('/email', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    const { user, actor } = principal(ctx);
    const newEmail = text(body, 'newEmail').trim();
    await kit.submit(
      ctx,
      async () => {
        await requestEmailChange(deps, actor, user.id, newEmail);
        kit.done(ctx, '/account', 'account.profile.link_sent', { email: newEmail });
      },
      (problem) => show(ctx, { newEmail, emailProblem: { ...problem, fields: problem.fields.email ? { newEmail: problem.fields.email } : {} } }),
    );
  });
}
