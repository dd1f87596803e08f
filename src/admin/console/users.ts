import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { factorsOf, hasSecondFactor, resetFactors } from '../../domain/factors/summary.js';
import { identitiesOf } from '../../domain/identities.js';
import { createUser, disableUser, enableUser, getUser, listUsers, setUserPassword, updateUser } from '../../domain/users.js';
import type { UserRow } from '../../store/users.js';
import { checked, formBody, optional, text, type FormBody, type FormProblem } from '../../http/forms.js';
import { principal, type ConsoleKit } from './kit.js';

interface UserFormValues {
  email: string;
  name: string;
  emailVerified: boolean;
  isAdmin: boolean;
}

const storedValues = (user: UserRow): UserFormValues => ({ email: user.email, name: user.name ?? '', emailVerified: user.emailVerified, isAdmin: user.isAdmin });

const submittedValues = (body: FormBody): UserFormValues => ({
  email: text(body, 'email'),
  name: text(body, 'name'),
  emailVerified: checked(body, 'emailVerified'),
  isAdmin: checked(body, 'isAdmin'),
});

export function userRoutes(router: Router, kit: ConsoleKit): void {
  const { deps, guard } = kit;
  const path = (id: string) => `/admin/users/${encodeURIComponent(id)}`;
  const label = (user: UserRow) => user.name ?? user.email;

  const showNew = (ctx: Context, values: UserFormValues | null, problem: FormProblem | null) =>
    kit.page(ctx, 'users', 'new', 'admin.users.new', { values, problem, minPasswordLength: kit.deps.config.accounts.passwordMinLength });
  const showEdit = async (ctx: Context, user: UserRow, values: UserFormValues, problem: FormProblem | null) => {
    const factors = await factorsOf(deps, user.id);
    // Recovery codes without a factor are possible only briefly (a factor removed elsewhere); they are reset too.
    const resettable = hasSecondFactor(factors) || factors.recoveryCodesLeft > 0;
    await kit.page(ctx, 'users', 'edit', { key: 'admin.named', params: { name: label(user) } }, { user, values, problem, self: principal(ctx).actor.id === user.id, factors, resettable, identities: await identitiesOf(deps, user.id) });
  };
  const showPassword = (ctx: Context, user: UserRow, problem: FormProblem | null) =>
    kit.page(ctx, 'users', 'password', { key: 'admin.users.password.title', params: { name: label(user) } }, { user, problem, minPasswordLength: kit.deps.config.accounts.passwordMinLength });

  router.get('/users', ...guard, async (ctx) => {
    const email = optional(ctx.query, 'email');
    const page = await listUsers(deps, { email, cursor: optional(ctx.query, 'cursor'), limit: 50 });
    await kit.page(ctx, 'users', 'list', 'admin.users.title', { page, email: email ?? '' });
  });

  router.get('/users/new', ...guard, (ctx) => showNew(ctx, null, null));

  router.post('/users', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    await kit.submit(
      ctx,
      async () => {
        const user = await createUser(deps, principal(ctx).actor, {
          ...submittedValues(body),
          name: optional(body, 'name'),
          password: text(body, 'password'),
        });
        kit.done(ctx, path(user.id), 'admin.users.created', { email: user.email });
      },
      (problem) => showNew(ctx, submittedValues(body), problem),
    );
  });

  router.get('/users/:id', ...guard, async (ctx) => {
    const user = await getUser(deps, ctx.params.id!);
    await showEdit(ctx, user, storedValues(user), null);
  });

  router.post('/users/:id', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    const id = ctx.params.id!;
    await kit.submit(
      ctx,
      async () => {
        // An emptied name clears it.
        const user = await updateUser(deps, principal(ctx).actor, id, { ...submittedValues(body), name: optional(body, 'name') ?? null });
        kit.done(ctx, path(user.id), 'admin.saved', { name: user.email });
      },
      async (problem) => showEdit(ctx, await getUser(deps, id), submittedValues(body), problem),
    );
  });

  router.get('/users/:id/password', ...guard, async (ctx) => showPassword(ctx, await getUser(deps, ctx.params.id!), null));

  router.post('/users/:id/password', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    const id = ctx.params.id!;
    await kit.submit(
      ctx,
      async () => {
        const user = await setUserPassword(deps, principal(ctx).actor, id, { password: text(body, 'password') });
        kit.done(ctx, path(user.id), 'admin.users.password_set', { email: user.email });
      },
      async (problem) => showPassword(ctx, await getUser(deps, id), problem),
    );
  });

  router.get('/users/:id/disable', ...guard, async (ctx) => {
    const user = await getUser(deps, ctx.params.id!);
    await kit.page(ctx, 'users', 'disable', { key: 'admin.users.disable.title', params: { name: label(user) } }, { user });
  });

  router.post('/users/:id/disable', ...guard, async (ctx) => {
    const user = await disableUser(deps, principal(ctx).actor, ctx.params.id!);
    kit.done(ctx, path(user.id), 'admin.users.disabled', { email: user.email });
  });

  router.get('/users/:id/factors/reset', ...guard, async (ctx) => {
    const user = await getUser(deps, ctx.params.id!);
    await kit.page(ctx, 'users', 'reset-factors', { key: 'admin.users.factors.reset.title', params: { name: label(user) } }, { user, factors: await factorsOf(deps, user.id) });
  });

  router.post('/users/:id/factors/reset', ...guard, async (ctx) => {
    const user = await getUser(deps, ctx.params.id!);
    await resetFactors(deps, principal(ctx).actor, user.id);
    kit.done(ctx, path(user.id), 'admin.users.factors.reset_done', { email: user.email });
  });

  router.post('/users/:id/enable', ...guard, async (ctx) => {
    const user = await enableUser(deps, principal(ctx).actor, ctx.params.id!);
    kit.done(ctx, path(user.id), 'admin.users.enabled', { email: user.email });
  });
}
