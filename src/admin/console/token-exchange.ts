import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { listResources } from '../../domain/resources.js';
import {
  createTokenExchangePolicy,
  deleteTokenExchangePolicy,
  getTokenExchangePolicy,
  listTokenExchangePolicies,
} from '../../domain/token-exchange.js';
import { formBody, optional, text, type FormBody, type FormProblem } from '../../http/forms.js';
import { principal, type ConsoleKit } from './kit.js';

/** What the policy form shows: as the admin typed it, or empty. */
interface PolicyFormValues {
  clientId: string;
  subjectAudience: string;
  targetAudience: string;
  scopes: string;
}

const submittedValues = (body: FormBody): PolicyFormValues => ({
  clientId: text(body, 'clientId'),
  subjectAudience: text(body, 'subjectAudience'),
  targetAudience: text(body, 'targetAudience'),
  scopes: text(body, 'scopes'),
});

/** Token exchange (RFC 8693): which client may exchange users' tokens for one API for tokens for another. */
export function tokenExchangeRoutes(router: Router, kit: ConsoleKit): void {
  const { deps, guard } = kit;
  const showNew = async (ctx: Context, values: PolicyFormValues | null, problem: FormProblem | null) => {
    // The APIs to choose from; a policy names two registered ones.
    const resources = (await listResources(deps, { limit: 1000 })).items.map((resource) => resource.identifier);
    await kit.page(ctx, 'token-exchange', 'new', 'admin.token_exchange.new', { values, problem, resources });
  };

  router.get('/token-exchange', ...guard, async (ctx) => {
    const page = await listTokenExchangePolicies(deps, { cursor: optional(ctx.query, 'cursor'), limit: 50 });
    await kit.page(ctx, 'token-exchange', 'list', 'admin.token_exchange.title', { page });
  });

  router.get('/token-exchange/new', ...guard, (ctx) => showNew(ctx, null, null));

  router.post('/token-exchange', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    await kit.submit(
      ctx,
      async () => {
        const policy = await createTokenExchangePolicy(deps, principal(ctx).actor, {
          clientId: text(body, 'clientId'),
          subjectAudience: text(body, 'subjectAudience'),
          targetAudience: text(body, 'targetAudience'),
          scopes: text(body, 'scopes'),
        });
        kit.done(ctx, '/admin/token-exchange', 'admin.token_exchange.created', { client: policy.clientId, target: policy.targetAudience });
      },
      (problem) => showNew(ctx, submittedValues(body), problem),
    );
  });

  router.get('/token-exchange/:id/delete', ...guard, async (ctx) => {
    const policy = await getTokenExchangePolicy(deps, ctx.params.id!);
    await kit.page(ctx, 'token-exchange', 'delete', 'admin.token_exchange.delete', { policy });
  });

  router.post('/token-exchange/:id/delete', ...guard, async (ctx) => {
    await deleteTokenExchangePolicy(deps, principal(ctx).actor, ctx.params.id!);
    kit.done(ctx, '/admin/token-exchange', 'admin.token_exchange.deleted');
  });
}
