import type { Config } from '../../config.js';
import { parse, positiveInteger, required } from '../args.js';
import { fields, printResult, table, UsageError } from '../output.js';
import { promptPassword } from '../prompt.js';
import { execute } from '../runner.js';

export async function usersCommand(config: Config, [sub, ...argv]: string[]): Promise<void> {
  switch (sub) {
    case 'create': {
      const { values } = parse(argv, {
        email: { type: 'string' },
        name: { type: 'string' },
        password: { type: 'string' },
        'email-verified': { type: 'boolean' },
        json: { type: 'boolean' },
      });
      const email = required(values.email, '--email');
      const password = values.password ?? (await promptPassword(`Password for ${email}: `));
      const user = await execute(config, 'users.create', {
        email,
        password,
        emailVerified: values['email-verified'] ?? false,
        ...(values.name !== undefined ? { name: values.name } : {}),
      });
      printResult(user, { json: values.json ?? false, human: fields });
      return;
    }
    case 'list': {
      const { values } = parse(argv, { email: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } });
      const limit = positiveInteger(values.limit, '--limit');
      const users = await execute(config, 'users.list', {
        ...(limit ? { limit } : {}),
        ...(values.email ? { email: values.email } : {}),
      });
      printResult(users, {
        json: values.json ?? false,
        human: (rows: Array<Record<string, unknown>>) => table(rows, ['id', 'email', 'name', 'email_verified', 'disabled']),
      });
      return;
    }
    default:
      throw new UsageError(sub ? `unknown command "users ${sub}"` : 'users needs a command: create or list');
  }
}
