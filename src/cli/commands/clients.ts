import type { Config } from '../../config.js';
import type { GrantType } from '../../domain/clients.js';
import { commaList, parse, positiveInteger, required } from '../args.js';
import { fields, printResult, table, UsageError } from '../output.js';
import { execute } from '../runner.js';

type AuthMethod = 'client_secret_basic' | 'client_secret_post';

export async function clientsCommand(config: Config, [sub, ...argv]: string[]): Promise<void> {
  switch (sub) {
    case 'create': {
      const { values } = parse(argv, {
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'post-logout-redirect-uri': { type: 'string', multiple: true },
        public: { type: 'boolean' },
        grant: { type: 'string', multiple: true },
        scope: { type: 'string' },
        resource: { type: 'string', multiple: true },
        'token-endpoint-auth-method': { type: 'string' },
        'cors-origin': { type: 'string', multiple: true },
        json: { type: 'boolean' },
      });
      const grants = commaList(values.grant);
      const client = await execute(config, 'clients.create', {
        name: required(values.name, '--name'),
        redirectUris: values['redirect-uri'] ?? [],
        postLogoutRedirectUris: values['post-logout-redirect-uri'] ?? [],
        public: values.public ?? false,
        resources: values.resource ?? [],
        corsOrigins: values['cors-origin'] ?? [],
        // The domain validates the values; the CLI only passes them on.
        ...(grants ? { grantTypes: grants as GrantType[] } : {}),
        ...(values.scope !== undefined ? { scope: values.scope } : {}),
        ...(values['token-endpoint-auth-method'] ? { tokenEndpointAuthMethod: values['token-endpoint-auth-method'] as AuthMethod } : {}),
      });
      printResult(client, { json: values.json ?? false, human: fields });
      return;
    }
    case 'list': {
      const { values } = parse(argv, { name: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } });
      const limit = positiveInteger(values.limit, '--limit');
      const clients = await execute(config, 'clients.list', {
        ...(limit ? { limit } : {}),
        ...(values.name ? { name: values.name } : {}),
      });
      printResult(clients, {
        json: values.json ?? false,
        human: (rows: Array<Record<string, unknown>>) => table(rows, ['client_id', 'client_name', 'grant_types', 'token_endpoint_auth_method']),
      });
      return;
    }
    case 'delete': {
      const { values, positionals } = parse(argv, { 'client-id': { type: 'string' }, json: { type: 'boolean' } }, true);
      if (positionals.length > 1) throw new UsageError('clients delete takes one client id');
      const clientId = required(values['client-id'] ?? positionals[0], 'a client id');
      const result = await execute(config, 'clients.delete', { clientId });
      printResult(result, { json: values.json ?? false, human: () => `deleted client ${clientId}` });
      return;
    }
    default:
      throw new UsageError(sub ? `unknown command "clients ${sub}"` : 'clients needs a command: create, list or delete');
  }
}
