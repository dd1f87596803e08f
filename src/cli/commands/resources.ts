import { clearable, clearableSeconds, jsonOption, pageOptions, pageRequest, parse, parseWithId, required, seconds } from '../args.js';
import { fields, pageTable, printResult } from '../output.js';
import { execute } from '../runner.js';
import { dispatch } from '../subcommands.js';

/** What create and update share; the identifier never changes once registered. */
const settingOptions = {
  scope: { type: 'string' },
  format: { type: 'string' },
  'introspection-client': { type: 'string' },
  'access-token-ttl': { type: 'string' },
  ...jsonOption,
} as const;

export const resourcesCommand = dispatch('resources', {
  async create(config, argv) {
    const { values } = parse(argv, { identifier: { type: 'string' }, ...settingOptions });
    const resource = await execute(config, 'resources.create', {
      identifier: required(values.identifier, '--identifier'),
      scopes: required(values.scope, '--scope'),
      // The domain validates the format; the CLI only passes it on.
      accessTokenFormat: values.format as 'jwt' | 'opaque' | undefined,
      introspectionClientId: values['introspection-client'] || undefined,
      accessTokenTtl: seconds(values['access-token-ttl'], '--access-token-ttl'),
    });
    printResult(resource, { json: values.json ?? false, human: fields });
  },
  async get(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'resource identifier');
    printResult(await execute(config, 'resources.get', { identifier: id }), { json: values.json ?? false, human: fields });
  },
  async list(config, argv) {
    const { values } = parse(argv, { ...pageOptions, ...jsonOption });
    const page = await execute(config, 'resources.list', pageRequest(values));
    printResult(page, {
      json: values.json ?? false,
      human: pageTable(['identifier', 'scope', 'access_token_format', 'access_token_ttl', 'introspection_client_id']),
    });
  },
  async update(config, argv) {
    const { values, id } = parseWithId(argv, settingOptions, 'resource identifier');
    const changes = {
      scopes: values.scope,
      accessTokenFormat: values.format as 'jwt' | 'opaque' | undefined,
      introspectionClientId: clearable(values['introspection-client']),
      accessTokenTtl: clearableSeconds(values['access-token-ttl'], '--access-token-ttl'),
    };
    printResult(await execute(config, 'resources.update', { identifier: id, changes }), { json: values.json ?? false, human: fields });
  },
  async delete(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'resource identifier');
    const result = await execute(config, 'resources.delete', { identifier: id });
    printResult(result, { json: values.json ?? false, human: () => `deleted resource ${id}` });
  },
});
