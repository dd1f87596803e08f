import { clearable, jsonOption, pageOptions, pageRequest, parse, parseWithId, required } from '../args.js';
import { fields, pageTable, printResult } from '../output.js';
import { promptPassword } from '../prompt.js';
import { execute } from '../runner.js';
import { dispatch, type Subcommand } from '../subcommands.js';

/** Commands that take only the user's id and answer with the user. */
function userAction(operation: 'users.get' | 'users.disable' | 'users.enable'): Subcommand {
  return async (config, argv) => {
    const { values, id } = parseWithId(argv, jsonOption, 'user id');
    printResult(await execute(config, operation, { id }), { json: values.json ?? false, human: fields });
  };
}

export const usersCommand = dispatch('users', {
  async create(config, argv) {
    const { values } = parse(argv, {
      email: { type: 'string' },
      name: { type: 'string' },
      password: { type: 'string' },
      'email-verified': { type: 'boolean' },
      admin: { type: 'boolean' },
      ...jsonOption,
    });
    const email = required(values.email, '--email');
    const password = values.password ?? (await promptPassword(`Password for ${email}: `));
    const user = await execute(config, 'users.create', {
      email,
      password,
      emailVerified: values['email-verified'] ?? false,
      isAdmin: values.admin ?? false,
      name: values.name,
    });
    printResult(user, { json: values.json ?? false, human: fields });
  },
  get: userAction('users.get'),
  async list(config, argv) {
    const { values } = parse(argv, { email: { type: 'string' }, ...pageOptions, ...jsonOption });
    const page = await execute(config, 'users.list', { ...pageRequest(values), email: values.email });
    printResult(page, { json: values.json ?? false, human: pageTable(['id', 'email', 'name', 'email_verified', 'is_admin', 'disabled']) });
  },
  async update(config, argv) {
    const { values, id } = parseWithId(
      argv,
      { email: { type: 'string' }, name: { type: 'string' }, 'email-verified': { type: 'boolean' }, admin: { type: 'boolean' }, ...jsonOption },
      'user id',
    );
    const changes = { email: values.email, name: clearable(values.name), emailVerified: values['email-verified'], isAdmin: values.admin };
    printResult(await execute(config, 'users.update', { id, changes }), { json: values.json ?? false, human: fields });
  },
  async 'set-password'(config, argv) {
    const { values, id } = parseWithId(argv, { password: { type: 'string' }, ...jsonOption }, 'user id');
    const password = values.password ?? (await promptPassword(`New password for user ${id}: `));
    printResult(await execute(config, 'users.set-password', { id, password }), { json: values.json ?? false, human: fields });
  },
  disable: userAction('users.disable'),
  enable: userAction('users.enable'),
  async delete(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'user id');
    const result = await execute(config, 'users.delete', { id });
    printResult(result, { json: values.json ?? false, human: () => `deleted user ${id}` });
  },
});
