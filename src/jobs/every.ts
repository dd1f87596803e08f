import type { Deps } from '../deps.js';

export interface Job {
  stop(): void;
}

/**
 * Runs `task` every `intervalMs`, never two runs at once; a failed run is logged and the next
 * one tries again.
 */
export function every(deps: Deps, name: string, intervalMs: number, task: () => Promise<void>): Job {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    task()
      .catch((error: unknown) => deps.log.warn({ err: error, job: name }, 'background job failed; will retry'))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
