import { configFromProcess } from '../config.js';
import { parse } from './args.js';
import { clientsCommand } from './commands/clients.js';
import { migrateCommand } from './commands/migrate.js';
import { resourcesCommand } from './commands/resources.js';
import { usersCommand } from './commands/users.js';
import { reportError, UsageError } from './output.js';

const usage = `Usage: latchkey <command> [options]

  serve                          run the server (migrates the database first)
  migrate                        apply pending database migrations
  users create --email E [--name N] [--password P] [--email-verified] [--json]
  users list [--email E] [--limit N] [--json]
  clients create --name N [--redirect-uri U ...] [--post-logout-redirect-uri U ...] [--public]
                 [--grant authorization_code,refresh_token | --grant client_credentials]
                 [--scope "openid profile ..."] [--resource URI ...] [--cors-origin O ...]
                 [--token-endpoint-auth-method client_secret_basic|client_secret_post] [--json]
  clients list [--name N] [--limit N] [--json]
  clients delete CLIENT_ID [--json]
  resources create --identifier URI --scope "a b" [--format jwt|opaque]
                   [--access-token-ttl 5m] [--introspection-client CLIENT_ID] [--json]
  resources list [--limit N] [--json]

Configuration comes from environment variables (see the README).`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const config = configFromProcess();
  switch (command) {
    case 'serve': {
      parse(rest, {});
      // Only the server loads the provider and the HTTP stack; other commands stay light.
      const { serve } = await import('../main.js');
      return serve(config);
    }
    case 'migrate':
      return migrateCommand(config, rest);
    case 'users':
      return usersCommand(config, rest);
    case 'clients':
      return clientsCommand(config, rest);
    case 'resources':
      return resourcesCommand(config, rest);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.exitCode = reportError(error);
});
