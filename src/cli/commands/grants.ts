import { jsonOption, parse, parseWithId, required } from '../args.js';
import { fields, pageTable, printResult } from '../output.js';
import { execute } from '../runner.js';
import { dispatch } from '../subcommands.js';

const columns = ['grant_id', 'client_id', 'scope', 'created_at', 'expires_at'];

export const grantsCommand = dispatch('grants', {
  async list(config, argv) {
    const { values } = parse(argv, { user: { type: 'string' }, ...jsonOption });
    const page = await execute(config, 'grants.list', { userId: required(values.user, '--user') });
    printResult(page, { json: values.json ?? false, human: pageTable(columns) });
  },
  async revoke(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'grant id');
    printResult(await execute(config, 'grants.revoke', { grantId: id }), { json: values.json ?? false, human: fields });
  },
});
