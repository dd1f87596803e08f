import type { Router } from '@koa/router';
import type { Context } from 'koa';
import {
  createUpstreamProvider,
  deleteUpstreamProvider,
  getUpstreamProvider,
  listUpstreamProviders,
  UPSTREAM_KINDS,
  updateUpstreamProvider,
  upstreamRedirectUri,
} from '../../domain/upstream-providers.js';
import { checked, formBody, optional, text, type FormBody, type FormProblem } from '../../http/forms.js';
import type { MessageKey } from '../../i18n/translate.js';
import type { UpstreamKind, UpstreamProviderRow } from '../../store/upstream-providers.js';
import { principal, type ConsoleKit } from './kit.js';

/** What the provider form shows: as stored, or as the admin typed it. The secret is never shown. */
interface ProviderFormValues {
  id: string;
  kind: string;
  name: string;
  issuer: string;
  clientId: string;
  scopes: string;
  emailDomains: string;
  tenant: string;
  githubUrl: string;
  githubApiUrl: string;
  enabled: boolean;
}

const KIND_LABELS: Record<UpstreamKind, MessageKey> = {
  oidc: 'admin.upstream.kind.oidc',
  google: 'admin.upstream.kind.google',
  microsoft: 'admin.upstream.kind.microsoft',
  github: 'admin.upstream.kind.github',
};

const KIND_CHOICES = UPSTREAM_KINDS.map((kind) => ({ value: kind, label: KIND_LABELS[kind] }));

const storedValues = (provider: UpstreamProviderRow): ProviderFormValues => ({
  id: provider.id,
  kind: provider.kind,
  name: provider.displayName,
  issuer: provider.issuer ?? '',
  clientId: provider.clientId,
  scopes: provider.scopes.join(' '),
  emailDomains: provider.emailDomains.join(', '),
  tenant: provider.settings.tenant ?? '',
  githubUrl: provider.settings.webUrl ?? '',
  githubApiUrl: provider.settings.apiUrl ?? '',
  enabled: provider.enabled,
});

const submittedValues = (body: FormBody): ProviderFormValues => ({
  id: text(body, 'id'),
  kind: text(body, 'kind'),
  name: text(body, 'name'),
  issuer: text(body, 'issuer'),
  clientId: text(body, 'clientId'),
  scopes: text(body, 'scopes'),
  emailDomains: text(body, 'emailDomains'),
  tenant: text(body, 'tenant'),
  githubUrl: text(body, 'githubUrl'),
  githubApiUrl: text(body, 'githubApiUrl'),
  enabled: checked(body, 'enabled'),
});

/**
 * The fields of the form that mean something for `kind`: the one form serves every preset (it
 * works without JavaScript), and a field left empty or belonging to another preset is not sent.
 */
function settingsFor(kind: string, body: FormBody) {
  return {
    name: optional(body, 'name'),
    scopes: optional(body, 'scopes'),
    issuer: kind === 'oidc' ? optional(body, 'issuer') : undefined,
    tenant: kind === 'microsoft' ? optional(body, 'tenant') : undefined,
    githubUrl: kind === 'github' ? optional(body, 'githubUrl') : undefined,
    githubApiUrl: kind === 'github' ? optional(body, 'githubApiUrl') : undefined,
  };
}

/** Upstream identity providers: the "Continue with ..." buttons of the login page. */
export function upstreamProviderRoutes(router: Router, kit: ConsoleKit): void {
  const { deps, guard } = kit;
  const path = (id: string) => `/admin/upstream-providers/${encodeURIComponent(id)}`;
  const common = { kindChoices: KIND_CHOICES, kindLabels: KIND_LABELS, callbackPattern: `${deps.config.http.issuer}/upstream/<id>/callback` };

  const showNew = (ctx: Context, values: ProviderFormValues | null, problem: FormProblem | null) =>
    kit.page(ctx, 'upstream-providers', 'new', 'admin.upstream.new', { ...common, values, problem });
  const showEdit = (ctx: Context, provider: UpstreamProviderRow, values: ProviderFormValues, problem: FormProblem | null) =>
    kit.page(ctx, 'upstream-providers', 'edit', { key: 'admin.named', params: { name: provider.displayName } }, {
      ...common,
      provider,
      values,
      problem,
      redirectUri: upstreamRedirectUri(deps, provider.id),
    });

  router.get('/upstream-providers', ...guard, async (ctx) => {
    const providers = await listUpstreamProviders(deps);
    await kit.page(ctx, 'upstream-providers', 'list', 'admin.upstream.title', { ...common, providers });
  });

  router.get('/upstream-providers/new', ...guard, (ctx) => {
    const preset = optional(ctx.query, 'preset');
    const kind = preset && (UPSTREAM_KINDS as readonly string[]).includes(preset) ? preset : 'oidc';
    return showNew(ctx, { ...submittedValues({}), kind, enabled: true }, null);
  });

  router.post('/upstream-providers', ...guard, async (ctx) => {
    const body = formBody(ctx.request.body);
    const kind = text(body, 'kind');
    await kit.submit(
      ctx,
      async () => {
        const provider = await createUpstreamProvider(deps, principal(ctx).actor, {
          id: text(body, 'id'),
          // The domain checks the choice against the presets.
          kind: kind as UpstreamKind,
          ...settingsFor(kind, body),
          clientId: text(body, 'clientId'),
          clientSecret: text(body, 'clientSecret'),
          emailDomains: text(body, 'emailDomains'),
          enabled: checked(body, 'enabled'),
        });
        kit.done(ctx, path(provider.id), 'admin.upstream.created', { name: provider.displayName });
      },
      (problem) => showNew(ctx, submittedValues(body), problem),
    );
  });

  router.get('/upstream-providers/:id', ...guard, async (ctx) => {
    const provider = await getUpstreamProvider(deps, ctx.params.id!);
    await showEdit(ctx, provider, storedValues(provider), null);
  });

  router.post('/upstream-providers/:id', ...guard, async (ctx) => {
    const provider = await getUpstreamProvider(deps, ctx.params.id!);
    const body = formBody(ctx.request.body);
    await kit.submit(
      ctx,
      async () => {
        const updated = await updateUpstreamProvider(deps, principal(ctx).actor, provider.id, {
          ...settingsFor(provider.kind, body),
          clientId: text(body, 'clientId'),
          // Empty keeps the stored secret: the form never shows it.
          clientSecret: optional(body, 'clientSecret'),
          emailDomains: text(body, 'emailDomains'),
          enabled: checked(body, 'enabled'),
        });
        kit.done(ctx, path(updated.id), 'admin.upstream.saved', { name: updated.displayName });
      },
      (problem) => showEdit(ctx, provider, { ...submittedValues(body), id: provider.id, kind: provider.kind }, problem),
    );
  });

  router.get('/upstream-providers/:id/delete', ...guard, async (ctx) => {
    const provider = await getUpstreamProvider(deps, ctx.params.id!);
    await kit.page(ctx, 'upstream-providers', 'delete', 'admin.upstream.delete', { provider });
  });

  router.post('/upstream-providers/:id/delete', ...guard, async (ctx) => {
    const provider = await getUpstreamProvider(deps, ctx.params.id!);
    await deleteUpstreamProvider(deps, principal(ctx).actor, provider.id);
    kit.done(ctx, '/admin/upstream-providers', 'admin.upstream.deleted', { name: provider.displayName });
  });
}
