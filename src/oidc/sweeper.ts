import type { Deps } from '../deps.js';
import { deleteExpiredPayloads } from '../store/oidc-payloads.js';
import { now } from '../util/clock.js';

const BATCH = 1000;
const MAX_BATCHES_PER_RUN = 20;

export interface Sweeper {
  stop(): void;
}

/** Deletes expired provider artifacts in bounded batches, so a backlog never becomes one huge statement. */
export async function sweepExpiredPayloads(deps: Deps): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch += 1) {
    const deleted = await deleteExpiredPayloads(deps.db.knex, now(), BATCH);
    total += deleted;
    if (deleted < BATCH) break;
  }
  return total;
}

export function startSweeper(deps: Deps): Sweeper {
  const timer = setInterval(() => {
    sweepExpiredPayloads(deps).then(
      (deleted) => deleted > 0 && deps.log.debug({ deleted }, 'deleted expired provider artifacts'),
      (error: unknown) => deps.log.warn({ err: error }, 'cleanup of expired provider artifacts failed; will retry'),
    );
  }, deps.config.cleanup.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
