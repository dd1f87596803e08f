import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { createInitialAccessToken, listInitialAccessTokens, revokeInitialAccessToken } from '../../domain/initial-access-tokens.js';
import { formBody, optional, seconds, text, type FormProblem } from '../../http/forms.js';
import type { MessageKey } from '../../i18n/translate.js';
import { principal, type ConsoleKit } from './kit.js';

const LIFETIMES = [
  { value: '', label: 'admin.tokens.lifetime.unlimited' },
  { value: '3600', label: 'admin.tokens.lifetime.hour' },
  { value: '86400', label: 'admin.tokens.lifetime.day' },
  { value: '604800', label: 'admin.tokens.lifetime.week' },
  { value: '2592000', label: 'admin.tokens.lifetime.month' },
  { value: '31536000', label: 'admin.tokens.lifetime.year' },
] as const satisfies ReadonlyArray<{ value: string; label: MessageKey }>;

/** Initial access tokens (RFC 7591 §3): they let their holder register clients. */
export function tokenRoutes(router: Router, kit: ConsoleKit): void {
  const { deps, guard } = kit;
  const showNew = (ctx: Context, values: { description: string; expiresIn: string } | null, problem: FormProblem | null) =>
    kit.page(ctx, 'tokens', 'new', 'admin.tokens.new.title', { values, problem, lifetimes: LIFETIMES });

  router.get('/tokens', ...guard, async (ctx) => {
    const page = await listInitialAccessTokens(deps, { cursor: optional(ctx.query, 'cursor'), limit: 50 });
    await kit.page(ctx, 'tokens', 'list', 'admin.tokens.title', { page, now: new Date() });
  });

  router.get('/tokens/new', ...guard, (ctx) => showNew(ctx, null, null));

  router.post('/tokens', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    await kit.submit(
      ctx,
      async () => {
        const created = await createInitialAccessToken(deps, principal(ctx).actor, {
          description: optional(body, 'description'),
          expiresIn: seconds(body, 'expiresIn'),
        });
        await kit.page(ctx, 'tokens', 'created', 'admin.tokens.created', created);
      },
      (problem) => showNew(ctx, { description: text(body, 'description'), expiresIn: text(body, 'expiresIn') }, problem),
    );
  });

  router.get('/tokens/:id/revoke', ...guard, async (ctx) => {
    await kit.page(ctx, 'tokens', 'revoke', 'admin.tokens.revoke.title', { id: ctx.params.id! });
  });

  router.post('/tokens/:id/revoke', ...guard, async (ctx) => {
    await revokeInitialAccessToken(deps, principal(ctx).actor, ctx.params.id!);
    kit.done(ctx, '/admin/tokens', 'admin.tokens.revoked');
  });
}
