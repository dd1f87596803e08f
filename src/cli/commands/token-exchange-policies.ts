import { jsonOption, pageOptions, pageRequest, parse, parseWithId, required } from '../args.js';
import { fields, pageTable, printResult } from '../output.js';
import { execute } from '../runner.js';
import { dispatch } from '../subcommands.js';

/** RFC 8693 token exchange: which client may exchange users' tokens for one API for tokens for another. */
export const tokenExchangePoliciesCommand = dispatch('token-exchange-policies', {
  async create(config, argv) {
    const { values } = parse(argv, {
      client: { type: 'string' },
      'subject-audience': { type: 'string' },
      'target-audience': { type: 'string' },
      scope: { type: 'string' },
      ...jsonOption,
    });
    const policy = await execute(config, 'token-exchange-policies.create', {
      clientId: required(values.client, '--client'),
      subjectAudience: required(values['subject-audience'], '--subject-audience'),
      targetAudience: required(values['target-audience'], '--target-audience'),
      scopes: required(values.scope, '--scope'),
    });
    printResult(policy, { json: values.json ?? false, human: fields });
  },
  async get(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'policy id');
    printResult(await execute(config, 'token-exchange-policies.get', { id }), { json: values.json ?? false, human: fields });
  },
  async list(config, argv) {
    const { values } = parse(argv, { client: { type: 'string' }, ...pageOptions, ...jsonOption });
    const page = await execute(config, 'token-exchange-policies.list', { ...pageRequest(values), ...(values.client ? { clientId: values.client } : {}) });
    printResult(page, { json: values.json ?? false, human: pageTable(['id', 'client_id', 'subject_audience', 'target_audience', 'scope']) });
  },
  async delete(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'policy id');
    const result = await execute(config, 'token-exchange-policies.delete', { id });
    printResult(result, { json: values.json ?? false, human: () => `deleted token exchange policy ${id}` });
  },
});
