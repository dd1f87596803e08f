import type { Deps } from '../deps.js';
import { loadKeys } from '../domain/keys.js';
import { createProvider, type Provider } from './provider.js';

/** How long a failed rebuild (the database away) waits before trying again. */
const RETRY_MS = 5000;
/** setTimeout holds at most about 24.8 days; a later transition is looked at again then. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

export interface LiveProvider {
  /** The provider requests starting now use; a request keeps the one it started with. */
  current(): Provider;
  /** The keys changed somewhere (the change feed saw it): rebuild. */
  keysChanged(): void;
  /** No rebuild starts after this; resolves once one in progress has ended. */
  stop(): Promise<void>;
}

/**
 * oidc-provider reads its keys only when built: a key change anywhere, or a key reaching the
 * moment it starts or stops signing, rebuilds it here, and requests move to the new one as soon
 * as it is ready. Rebuilds run one after another.
 */
export async function startLiveProvider(deps: Deps): Promise<LiveProvider> {
  let keys = await loadKeys(deps);
  let provider = createProvider(deps, keys);
  let rebuilding = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const schedule = (retryMs?: number) => {
    clearTimeout(timer);
    if (stopped || (!keys.nextTransition && retryMs === undefined)) return;
    const untilTransition = keys.nextTransition ? Math.max(keys.nextTransition.getTime() - Date.now(), 0) + 50 : Infinity;
    timer = setTimeout(rebuild, Math.min(untilTransition, retryMs ?? Infinity, LONGEST_TIMER_MS)).unref();
  };
  function rebuild() {
    rebuilding = rebuilding.then(async () => {
      if (stopped) return;
      try {
        keys = await loadKeys(deps);
        provider = createProvider(deps, keys);
        deps.log.info('signing keys changed; the provider now uses the new set');
        schedule();
      } catch (error) {
        deps.log.error({ err: error }, 'could not load the new signing keys; keeping the current ones and trying again');
        schedule(RETRY_MS);
      }
    });
  }
  schedule();

  return {
    current: () => provider,
    keysChanged: rebuild,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await rebuilding;
    },
  };
}
