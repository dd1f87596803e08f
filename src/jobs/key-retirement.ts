import type { Deps } from '../deps.js';
import { retireKeys } from '../domain/keys.js';
import { every, type Job } from './every.js';

/** The job's lock name: every process of a deployment must use the same one. */
export const KEY_RETIREMENT_JOB = 'key retirement';

/**
 * Destroys the private halves of signing keys and deletes cookie secrets once their retirement
 * has come (rotations schedule it), on one process of the deployment at a time.
 */
export function startKeyRetirement(deps: Deps): Job {
  return every(
    deps,
    KEY_RETIREMENT_JOB,
    deps.config.cleanup.intervalMs,
    async () => {
      await retireKeys(deps);
    },
    { oneNodeAtATime: true },
  );
}
