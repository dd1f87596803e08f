import { MAX_ACTIVATION_DELAY, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../domain/keys.js';
import { commaList, jsonOption, parse, seconds } from '../args.js';
import { pageTable, printResult, table, UsageError } from '../output.js';
import { execute } from '../runner.js';
import { dispatch } from '../subcommands.js';

interface KeyJson {
  kid: string;
  alg: string;
  state: string;
  activates_at: string;
  retires_at: string | null;
  age_seconds: number;
}

/** 42s, 17m, 5h 3m, 12d 4h: how long ago, at a glance. */
function age(totalSeconds: number): string {
  const days = Math.floor(totalSeconds / 86400);
  const hours = Math.floor((totalSeconds % 86400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  return minutes > 0 ? `${minutes}m` : `${totalSeconds}s`;
}

const row = (key: KeyJson) => ({ kid: key.kid, alg: key.alg, state: key.state, age: age(key.age_seconds), activates: key.activates_at, retires: key.retires_at });
const columns = ['kid', 'alg', 'state', 'age', 'activates', 'retires'];

function algorithms(values: string[] | undefined): SigningAlgorithm[] | undefined {
  const algs = commaList(values);
  if (algs === undefined) return undefined;
  const known: readonly string[] = SIGNING_ALGORITHMS;
  const unknown = algs.find((alg) => !known.includes(alg));
  if (unknown !== undefined || algs.length === 0) {
    throw new UsageError(`--alg takes ${SIGNING_ALGORITHMS.join(' or ')}${unknown !== undefined ? `, not ${JSON.stringify(unknown)}` : ''}`);
  }
  return algs as SigningAlgorithm[];
}

function activationDelay(value: string | undefined): number | undefined {
  const delay = seconds(value, '--delay');
  if (delay !== undefined && delay > MAX_ACTIVATION_DELAY) throw new UsageError('--delay takes at most 365d');
  return delay;
}

export const keysCommand = dispatch('keys', {
  async list(config, argv) {
    const { values } = parse(argv, jsonOption);
    const page = await execute(config, 'keys.list', undefined);
    printResult(page, { json: values.json ?? false, human: pageTable(columns, row) });
  },
  async rotate(config, argv) {
    const { values } = parse(argv, { alg: { type: 'string', multiple: true }, delay: { type: 'string' }, ...jsonOption });
    const result = await execute(config, 'keys.rotate', { algs: algorithms(values.alg), activationDelay: activationDelay(values.delay) });
    printResult(result, {
      json: values.json ?? false,
      human: (rotated: { rotated: KeyJson[] }) => table(rotated.rotated.map(row), columns),
      note: 'note: the new keys are in the JWKS now and sign from their activation; the keys they replace stay in the JWKS until every token they signed has expired (latchkey keys list shows when)',
    });
  },
});
