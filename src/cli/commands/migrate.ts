import type { Config } from '../../config.js';
import { migrateLatest } from '../../db/migrate.js';
import { createDeps } from '../../deps.js';
import { createLogger } from '../../log.js';
import { parse } from '../args.js';
import { printResult } from '../output.js';

export async function migrateCommand(config: Config, argv: string[]): Promise<void> {
  const { values } = parse(argv, { json: { type: 'boolean' } });
  const log = createLogger({ log: { level: 'warn', pretty: false } }, process.stderr);
  const deps = await createDeps(config, { log, lockHolder: 'cli' });
  try {
    const applied = await migrateLatest(deps.db);
    printResult(
      { applied },
      {
        json: values.json ?? false,
        human: (result: { applied: string[] }) =>
          result.applied.length ? `applied ${result.applied.length} migration(s):\n${result.applied.join('\n')}` : 'the database is up to date',
      },
    );
  } finally {
    await deps.db.close();
  }
}
