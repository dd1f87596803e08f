import type { Config } from '../../config.js';
import { parseDuration } from '../../util/duration.js';
import { parse, positiveInteger, required } from '../args.js';
import { fields, printResult, table, UsageError } from '../output.js';
import { execute } from '../runner.js';

export async function resourcesCommand(config: Config, [sub, ...argv]: string[]): Promise<void> {
  switch (sub) {
    case 'create': {
      const { values } = parse(argv, {
        identifier: { type: 'string' },
        scope: { type: 'string' },
        format: { type: 'string' },
        'introspection-client': { type: 'string' },
        'access-token-ttl': { type: 'string' },
        json: { type: 'boolean' },
      });
      const ttl = values['access-token-ttl'];
      const accessTokenTtl = ttl === undefined ? undefined : parseDuration(ttl);
      if (ttl !== undefined && (accessTokenTtl === undefined || !Number.isInteger(accessTokenTtl))) {
        throw new UsageError('--access-token-ttl takes a whole number of seconds, minutes or hours, such as 300s, 5m or 1h');
      }
      const resource = await execute(config, 'resources.create', {
        identifier: required(values.identifier, '--identifier'),
        scopes: required(values.scope, '--scope'),
        ...(values.format ? { accessTokenFormat: values.format as 'jwt' | 'opaque' } : {}),
        ...(values['introspection-client'] ? { introspectionClientId: values['introspection-client'] } : {}),
        ...(accessTokenTtl !== undefined ? { accessTokenTtl } : {}),
      });
      printResult(resource, { json: values.json ?? false, human: fields });
      return;
    }
    case 'list': {
      const { values } = parse(argv, { limit: { type: 'string' }, json: { type: 'boolean' } });
      const limit = positiveInteger(values.limit, '--limit');
      const resources = await execute(config, 'resources.list', limit ? { limit } : {});
      printResult(resources, {
        json: values.json ?? false,
        human: (rows: Array<Record<string, unknown>>) =>
          table(rows, ['identifier', 'scope', 'access_token_format', 'access_token_ttl', 'introspection_client_id']),
      });
      return;
    }
    default:
      throw new UsageError(sub ? `unknown command "resources ${sub}"` : 'resources needs a command: create or list');
  }
}
