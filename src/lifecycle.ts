import type { Deps } from './deps.js';

// Keyed by Deps, one per server: tests run several servers in one process, and one of them
// shutting down must not make the others look unready.
const draining = new WeakSet<Deps>();

/** From the moment a shutdown starts: /readyz answers not ready, so load balancers stop sending requests. */
export function markDraining(deps: Deps): void {
  draining.add(deps);
}

export function isDraining(deps: Deps): boolean {
  return draining.has(deps);
}
