import type { CreateClientInput, UpdateClientInput } from '../../domain/clients.js';
import { clearable, clearableJson, clearableSeconds, commaList, jsonOption, list, pageOptions, pageRequest, parse, parseWithId, required, seconds } from '../args.js';
import { fields, pageTable, printResult } from '../output.js';
import { execute } from '../runner.js';
import { dispatch } from '../subcommands.js';

/** The settings create and update share; on update a list flag replaces the list and `""` clears. */
const settingOptions = {
  name: { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'post-logout-redirect-uri': { type: 'string', multiple: true },
  grant: { type: 'string', multiple: true },
  scope: { type: 'string' },
  resource: { type: 'string', multiple: true },
  'token-endpoint-auth-method': { type: 'string' },
  'cors-origin': { type: 'string', multiple: true },
  'first-party': { type: 'boolean' },
  'admin-access': { type: 'boolean' },
  'logo-uri': { type: 'string' },
  'client-uri': { type: 'string' },
  'policy-uri': { type: 'string' },
  'tos-uri': { type: 'string' },
  'access-token-ttl': { type: 'string' },
  'refresh-token-ttl': { type: 'string' },
  jwks: { type: 'string' },
  'jwks-uri': { type: 'string' },
  'backchannel-logout-uri': { type: 'string' },
  'backchannel-logout-session-required': { type: 'boolean' },
  'require-par': { type: 'boolean' },
  'dpop-bound': { type: 'boolean' },
  'require-signed-request-object': { type: 'boolean' },
  'refresh-reuse-grace': { type: 'string' },
  'require-mfa': { type: 'boolean' },
  ...jsonOption,
} as const;

type SettingValues = ReturnType<typeof parse<typeof settingOptions>>['values'];

// The domain validates every value; the CLI only turns flags into its fields.
async function settingsFrom(values: SettingValues): Promise<UpdateClientInput> {
  return {
    name: values.name,
    redirectUris: list(values['redirect-uri']),
    postLogoutRedirectUris: list(values['post-logout-redirect-uri']),
    grantTypes: commaList(values.grant),
    scope: values.scope,
    resources: list(values.resource),
    tokenEndpointAuthMethod: values['token-endpoint-auth-method'],
    corsOrigins: list(values['cors-origin']),
    firstParty: values['first-party'],
    adminAccess: values['admin-access'],
    logoUri: clearable(values['logo-uri']),
    clientUri: clearable(values['client-uri']),
    policyUri: clearable(values['policy-uri']),
    tosUri: clearable(values['tos-uri']),
    accessTokenTtl: clearableSeconds(values['access-token-ttl'], '--access-token-ttl'),
    refreshTokenTtl: clearableSeconds(values['refresh-token-ttl'], '--refresh-token-ttl'),
    jwks: await clearableJson(values.jwks, '--jwks'),
    jwksUri: clearable(values['jwks-uri']),
    backchannelLogoutUri: clearable(values['backchannel-logout-uri']),
    backchannelLogoutSessionRequired: values['backchannel-logout-session-required'],
    requirePushedAuthorizationRequests: values['require-par'],
    dpopBoundAccessTokens: values['dpop-bound'],
    requireSignedRequestObject: values['require-signed-request-object'],
    refreshTokenReuseGrace: clearableSeconds(values['refresh-reuse-grace'], '--refresh-reuse-grace'),
    requireMfa: values['require-mfa'],
  };
}

/** A new client has nothing to clear: `""` just leaves the setting out. */
function withoutCleared(settings: UpdateClientInput): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== null && value !== undefined));
}

const secretNote = 'note: the client secret is shown once, now; store it somewhere safe';

function printClient(client: Record<string, unknown>, json: boolean): void {
  printResult(client, { json, human: fields, ...('client_secret' in client ? { note: secretNote } : {}) });
}

export const clientsCommand = dispatch('clients', {
  async create(config, argv) {
    const { values } = parse(argv, { ...settingOptions, public: { type: 'boolean' } });
    const settings = withoutCleared(await settingsFrom(values));
    const input = { ...settings, name: required(values.name, '--name'), public: values.public ?? false } as CreateClientInput;
    printClient((await execute(config, 'clients.create', input)) as Record<string, unknown>, values.json ?? false);
  },
  async get(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'client id');
    printResult(await execute(config, 'clients.get', { clientId: id }), { json: values.json ?? false, human: fields });
  },
  async list(config, argv) {
    const { values } = parse(argv, { name: { type: 'string' }, ...pageOptions, ...jsonOption });
    const page = await execute(config, 'clients.list', { ...pageRequest(values), name: values.name });
    printResult(page, { json: values.json ?? false, human: pageTable(['client_id', 'client_name', 'grant_types', 'token_endpoint_auth_method']) });
  },
  async update(config, argv) {
    const { values, id } = parseWithId(argv, settingOptions, 'client id');
    const client = await execute(config, 'clients.update', { clientId: id, changes: await settingsFrom(values) });
    printResult(client, { json: values.json ?? false, human: fields });
  },
  async 'rotate-secret'(config, argv) {
    const { values, id } = parseWithId(argv, { grace: { type: 'string' }, ...jsonOption }, 'client id');
    const client = await execute(config, 'clients.rotate-secret', { clientId: id, graceSeconds: seconds(values.grace, '--grace') });
    printClient(client as Record<string, unknown>, values.json ?? false);
  },
  async delete(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'client id');
    const result = await execute(config, 'clients.delete', { clientId: id });
    printResult(result, { json: values.json ?? false, human: () => `deleted client ${id}` });
  },
});
