import type { CreateUpstreamProviderInput, UpdateUpstreamProviderInput } from '../../domain/upstream-providers.js';
import { commaList, jsonOption, parse, parseWithId, required } from '../args.js';
import { LatchkeyError } from '../../errors.js';
import { fields, pageTable, printResult, UsageError } from '../output.js';
import { execute } from '../runner.js';
import { dispatch } from '../subcommands.js';

/** What create and update share. */
const settingOptions = {
  name: { type: 'string' },
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  scope: { type: 'string' },
  'email-domains': { type: 'string', multiple: true },
  tenant: { type: 'string' },
  'github-url': { type: 'string' },
  'github-api-url': { type: 'string' },
  ...jsonOption,
} as const;

const redirectNote = (provider: Record<string, unknown>) => `note: register ${String(provider.redirect_uri)} as the redirect URI at the provider`;

function printProvider(provider: Record<string, unknown>, json: boolean, note: boolean): void {
  printResult(provider, { json, human: fields, ...(note ? { note: redirectNote(provider) } : {}) });
}

/**
 * The domain names fields as the admin API does; here they are flags. clientId means a Latchkey
 * client to the other commands (--client), and the kind is chosen with --preset.
 */
const FLAG_NAMES: Record<string, string> = { clientId: 'client-id', kind: 'preset' };

async function naming<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (!(error instanceof LatchkeyError) || !error.details) throw error;
    const details = Object.fromEntries(Object.entries(error.details).map(([field, problem]) => [FLAG_NAMES[field] ?? field, problem]));
    throw new LatchkeyError(error.code, error.message, { details, cause: error });
  }
}

/** `--enable` or `--disable`, not both; neither keeps the provider as it is. */
function enabledFrom(values: { enable?: boolean | undefined; disable?: boolean | undefined }): boolean | undefined {
  if (values.enable && values.disable) throw new UsageError('--enable and --disable cannot be used together');
  if (values.enable) return true;
  return values.disable ? false : undefined;
}

/** Upstream identity providers: "Continue with Google" (and Microsoft, GitHub, any OpenID provider) on the login page. */
export const upstreamProvidersCommand = dispatch('upstream-providers', {
  async create(config, argv) {
    const { values } = parse(argv, { id: { type: 'string' }, preset: { type: 'string' }, disable: { type: 'boolean' }, ...settingOptions });
    const provider = await naming(execute(config, 'upstream-providers.create', {
      id: required(values.id, '--id'),
      // The domain checks the preset and names what it takes.
      kind: (values.preset ?? 'oidc') as CreateUpstreamProviderInput['kind'],
      name: values.name,
      issuer: values.issuer,
      clientId: required(values['client-id'], '--client-id'),
      clientSecret: required(values['client-secret'], '--client-secret'),
      scopes: values.scope,
      emailDomains: commaList(values['email-domains']) ?? [],
      tenant: values.tenant,
      githubUrl: values['github-url'],
      githubApiUrl: values['github-api-url'],
      enabled: !values.disable,
    }));
    printProvider(provider as Record<string, unknown>, values.json ?? false, true);
  },
  async get(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'provider id');
    printProvider((await execute(config, 'upstream-providers.get', { id })) as Record<string, unknown>, values.json ?? false, false);
  },
  async list(config, argv) {
    const { values } = parse(argv, jsonOption);
    const page = await execute(config, 'upstream-providers.list', undefined);
    printResult(page, { json: values.json ?? false, human: pageTable(['id', 'kind', 'name', 'enabled', 'issuer', 'email_domains', 'redirect_uri']) });
  },
  async update(config, argv) {
    const { values, id } = parseWithId(argv, { ...settingOptions, enable: { type: 'boolean' }, disable: { type: 'boolean' } }, 'provider id');
    const changes: UpdateUpstreamProviderInput = {
      name: values.name,
      issuer: values.issuer,
      clientId: values['client-id'],
      clientSecret: values['client-secret'],
      scopes: values.scope,
      emailDomains: commaList(values['email-domains']),
      tenant: values.tenant,
      githubUrl: values['github-url'],
      githubApiUrl: values['github-api-url'],
      enabled: enabledFrom(values),
    };
    if (Object.values(changes).every((value) => value === undefined)) {
      throw new UsageError('nothing to change: give --name, --issuer, --client-id, --client-secret, --scope, --email-domains, --tenant, --github-url, --github-api-url, --enable or --disable');
    }
    const provider = await naming(execute(config, 'upstream-providers.update', { id, changes }));
    printProvider(provider as Record<string, unknown>, values.json ?? false, false);
  },
  async delete(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'provider id');
    const result = await execute(config, 'upstream-providers.delete', { id });
    printResult(result, { json: values.json ?? false, human: () => `deleted upstream provider ${id}` });
  },
});
