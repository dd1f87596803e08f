import type { Config } from '../../config.js';
import { migrateLatest } from '../../db/migrate.js';
import { parse } from '../args.js';
import { printResult } from '../output.js';
import { withOwnDatabase } from '../runner.js';

export async function migrateCommand(config: Config, argv: string[]): Promise<void> {
  const { values } = parse(argv, { json: { type: 'boolean' } });
  const applied = await withOwnDatabase(config, (deps) => migrateLatest(deps.db, { sealer: deps.sealer }));
  printResult(
    { applied },
    {
      json: values.json ?? false,
      human: (result: { applied: string[] }) =>
        result.applied.length ? `applied ${result.applied.length} migration(s):\n${result.applied.join('\n')}` : 'the database is up to date',
    },
  );
}
