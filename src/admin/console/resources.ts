import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { createResource, deleteResource, getResource, listResources, updateResource } from '../../domain/resources.js';
import type { AccessTokenFormat, ResourceRow } from '../../store/resources.js';
import { formBody, optional, seconds, text, type FormBody, type FormProblem } from '../../http/forms.js';
import type { MessageKey } from '../../i18n/translate.js';
import { principal, type ConsoleKit } from './kit.js';

interface ResourceFormValues {
  identifier: string;
  scopes: string;
  accessTokenFormat: string;
  accessTokenTtl: string;
  introspectionClientId: string;
}

const storedValues = (resource: ResourceRow): ResourceFormValues => ({
  identifier: resource.identifier,
  scopes: resource.scopes.join(' '),
  accessTokenFormat: resource.accessTokenFormat,
  accessTokenTtl: resource.accessTokenTtl?.toString() ?? '',
  introspectionClientId: resource.introspectionClientId ?? '',
});

const submittedValues = (body: FormBody): ResourceFormValues => ({
  identifier: text(body, 'identifier'),
  scopes: text(body, 'scopes'),
  accessTokenFormat: text(body, 'accessTokenFormat'),
  accessTokenTtl: text(body, 'accessTokenTtl'),
  introspectionClientId: text(body, 'introspectionClientId'),
});

// The domain refuses any other value, naming the field.
const format = (body: FormBody) => optional(body, 'accessTokenFormat') as AccessTokenFormat | undefined;

const FORMATS = [
  { value: 'jwt', label: 'admin.resources.format.jwt.choice' },
  { value: 'opaque', label: 'admin.resources.format.opaque.choice' },
] as const satisfies ReadonlyArray<{ value: AccessTokenFormat; label: MessageKey }>;

export function resourceRoutes(router: Router, kit: ConsoleKit): void {
  const { deps, guard } = kit;
  const showNew = (ctx: Context, values: ResourceFormValues | null, problem: FormProblem | null) =>
    kit.page(ctx, 'resources', 'new', 'admin.resources.new', { values, problem, formats: FORMATS });
  const showEdit = (ctx: Context, resource: ResourceRow, values: ResourceFormValues, problem: FormProblem | null) =>
    kit.page(ctx, 'resources', 'edit', { key: 'admin.named', params: { name: resource.identifier } }, { resource, values, problem, formats: FORMATS });

  router.get('/resources', ...guard, async (ctx) => {
    const page = await listResources(deps, { cursor: optional(ctx.query, 'cursor'), limit: 50 });
    await kit.page(ctx, 'resources', 'list', 'admin.resources.title', { page });
  });

  router.get('/resources/new', ...guard, (ctx) => showNew(ctx, null, null));

  router.post('/resources', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    await kit.submit(
      ctx,
      async () => {
        const resource = await createResource(deps, principal(ctx).actor, {
          identifier: text(body, 'identifier'),
          scopes: text(body, 'scopes'),
          accessTokenFormat: format(body),
          accessTokenTtl: seconds(body, 'accessTokenTtl'),
          introspectionClientId: optional(body, 'introspectionClientId'),
        });
        kit.done(ctx, '/admin/resources', 'admin.resources.registered', { identifier: resource.identifier });
      },
      (problem) => showNew(ctx, submittedValues(body), problem),
    );
  });

  // Identifiers are URLs: they travel percent-encoded in one path segment.
  router.get('/resources/:identifier', ...guard, async (ctx) => {
    const resource = await getResource(deps, ctx.params.identifier!);
    await showEdit(ctx, resource, storedValues(resource), null);
  });

  router.post('/resources/:identifier', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    const identifier = ctx.params.identifier!;
    await kit.submit(
      ctx,
      async () => {
        const resource = await updateResource(deps, principal(ctx).actor, identifier, {
          scopes: text(body, 'scopes'),
          accessTokenFormat: format(body),
          // Emptied: back to the default lifetime, or no introspection client.
          accessTokenTtl: seconds(body, 'accessTokenTtl') ?? null,
          introspectionClientId: optional(body, 'introspectionClientId') ?? null,
        });
        kit.done(ctx, `/admin/resources/${encodeURIComponent(resource.identifier)}`, 'admin.saved', { name: resource.identifier });
      },
      async (problem) => showEdit(ctx, await getResource(deps, identifier), submittedValues(body), problem),
    );
  });

  router.get('/resources/:identifier/delete', ...guard, async (ctx) => {
    const resource = await getResource(deps, ctx.params.identifier!);
    await kit.page(ctx, 'resources', 'delete', { key: 'admin.delete', params: { name: resource.identifier } }, { resource });
  });

  router.post('/resources/:identifier/delete', ...guard, async (ctx) => {
    await deleteResource(deps, principal(ctx).actor, ctx.params.identifier!);
    kit.done(ctx, '/admin/resources', 'admin.resources.deleted');
  });
}
