import type { Deps } from '../deps.js';

export interface Job {
  /**
   * No further runs; resolves once the run in progress, told to stop through its signal, has
   * ended, so the database can be closed after it without pulling connections from under it.
   */
  stop(): Promise<void>;
}

export interface JobOptions {
  /**
   * Only one process of the deployment runs the job at a time: each run takes the job's lock
   * (`deps.db.withJobLock(name)`), and a process that does not get it skips that run.
   */
  oneNodeAtATime?: boolean;
}

/**
 * Runs `task` every `intervalMs`, never two runs at once in this process; a failed run is logged
 * and the next one tries again. A long task checks `signal` between steps and ends early once
 * the job is stopped.
 */
export function every(deps: Deps, name: string, intervalMs: number, task: (signal: AbortSignal) => Promise<void>, options: JobOptions = {}): Job {
  const stopping = new AbortController();
  const run = options.oneNodeAtATime ? () => onOneNode(deps, name, () => task(stopping.signal)) : () => task(stopping.signal);
  let current: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (current) return;
    current = run()
      .catch((error: unknown) => deps.log.warn({ err: error, job: name }, 'background job failed; will retry'))
      .finally(() => {
        current = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      stopping.abort();
      await current;
    },
  };
}

async function onOneNode(deps: Deps, name: string, task: () => Promise<void>): Promise<void> {
  const ran = await deps.db.withJobLock(name, async () => {
    await task();
    return true;
  });
  if (!ran) deps.log.debug({ job: name }, 'background job skipped: another process is running it');
}
