import type { Knex } from 'knex';
import type { Logger } from '../log.js';
import { readChangeCounters, type ChangeTopic } from '../store/change-counters.js';

export interface ChangeFeed {
  stop(): void;
}

/**
 * Polls the change counters and reports each topic whose counter moved since the last look.
 * Polling (rather than LISTEN/NOTIFY) works on PGlite and through transaction poolers alike.
 */
export function startChangeFeed(
  db: Knex,
  options: { intervalMs: number; log: Logger; onChange: (topic: ChangeTopic) => void },
): ChangeFeed {
  let known: Map<string, number> | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function poll() {
    try {
      const current = await readChangeCounters(db);
      if (known) {
        for (const [topic, version] of current) {
          if (known.get(topic) !== version) options.onChange(topic as ChangeTopic);
        }
      }
      known = current;
    } catch (error) {
      options.log.warn({ err: error }, 'could not read change counters; caches may be stale until the database answers');
    } finally {
      if (!stopped) timer = setTimeout(poll, options.intervalMs).unref();
    }
  }
  void poll();

  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
