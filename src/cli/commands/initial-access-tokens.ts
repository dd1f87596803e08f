import { jsonOption, pageOptions, pageRequest, parse, parseWithId, seconds } from '../args.js';
import { fields, pageTable, printResult } from '../output.js';
import { execute } from '../runner.js';
import { dispatch } from '../subcommands.js';

export const initialAccessTokensCommand = dispatch('initial-access-tokens', {
  async create(config, argv) {
    const { values } = parse(argv, { description: { type: 'string' }, 'expires-in': { type: 'string' }, ...jsonOption });
    const token = await execute(config, 'initial-access-tokens.create', {
      description: values.description,
      expiresIn: seconds(values['expires-in'], '--expires-in'),
    });
    printResult(token, {
      json: values.json ?? false,
      human: fields,
      note: 'note: the token is shown once, now; whoever holds it can register clients until it expires or is revoked',
    });
  },
  async list(config, argv) {
    const { values } = parse(argv, { ...pageOptions, ...jsonOption });
    const page = await execute(config, 'initial-access-tokens.list', pageRequest(values));
    printResult(page, { json: values.json ?? false, human: pageTable(['id', 'description', 'created_by', 'created_at', 'expires_at', 'revoked_at']) });
  },
  async revoke(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'initial access token id');
    printResult(await execute(config, 'initial-access-tokens.revoke', { id }), { json: values.json ?? false, human: fields });
  },
});
