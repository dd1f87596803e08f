import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { formBody, text, type FormProblem } from '../http/forms.js';
import { principal, type AccountKit } from './kit.js';
import { changeOwnPassword } from './password-change.js';

/** /account/password: a new password, given the current one. */
export function passwordRoutes(router: Router, kit: AccountKit): void {
  const { deps, guard } = kit;

  const show = (ctx: Context, problem: FormProblem | null) =>
    kit.page(ctx, 'password', { problem, minPasswordLength: deps.config.accounts.passwordMinLength });

  router.get('/password', ...guard, (ctx) => show(ctx, null));

  router.post('/password', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    const { user, actor, sessionUid } = principal(ctx);
    await kit.submit(
      ctx,
      async () => {
        await changeOwnPassword(deps, actor, user, { currentPassword: text(body, 'currentPassword'), password: text(body, 'password'), confirmation: text(body, 'confirmation') }, sessionUid);
        kit.done(ctx, '/account/password', 'account.password.changed');
      },
      (problem) => show(ctx, problem),
    );
  });
}
