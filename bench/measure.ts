import type { CannonJob, FlowJob, LoadResult } from './load.js';
import type { Child } from './processes.js';
import { cpuSeconds, postgresCpuSeconds, treeCpuSeconds, treeRssMB } from './proc.js';
import type { RoundTripCounter } from './round-trips.js';

export interface Sample extends LoadResult {
  /** CPU seconds the server (and its workers) used during the run. */
  serverCpu: number;
  /** CPU seconds PostgreSQL used during the run (0 for the baseline, which has none). */
  postgresCpu: number;
  /** CPU seconds the load generator used. */
  loadCpu: number;
  /** Highest resident memory seen during the run, MB. */
  peakRssMB: number;
}

/** Runs one load job against the server with process id `serverPid`, watching its CPU and memory. */
export async function measure(load: Child, job: CannonJob | FlowJob, serverPid: number, options: { postgres: boolean }): Promise<Sample> {
  const cpuBefore = treeCpuSeconds(serverPid);
  const loadBefore = cpuSeconds(load.pid);
  const postgresBefore = options.postgres ? postgresCpuSeconds() : 0;
  let peakRssMB = treeRssMB(serverPid);
  const watcher = setInterval(() => {
    peakRssMB = Math.max(peakRssMB, treeRssMB(serverPid));
  }, 250);
  try {
    const reply = await load.ask<{ ok: true; result: LoadResult } | { ok: false; message: string }>(job);
    if (!reply.ok) throw new Error(`the load generator failed: ${reply.message}`);
    return {
      ...reply.result,
      serverCpu: treeCpuSeconds(serverPid) - cpuBefore,
      loadCpu: cpuSeconds(load.pid) - loadBefore,
      postgresCpu: options.postgres ? postgresCpuSeconds() - postgresBefore : 0,
      peakRssMB,
    };
  } finally {
    clearInterval(watcher);
  }
}

/**
 * Round trips to PostgreSQL per request, read off the wire by `counter` while `work` sends
 * requests one after another; what the node's background jobs send meanwhile (at `idlePerMs`,
 * measured with no requests) is taken out.
 */
export async function roundTripsPerRequest(counter: RoundTripCounter, idlePerMs: number, work: () => Promise<number>): Promise<number> {
  const before = counter.count();
  const started = performance.now();
  const requests = await work();
  const background = idlePerMs * (performance.now() - started);
  return Math.max(0, counter.count() - before - background) / requests;
}

export async function idleRoundTripsPerMs(counter: RoundTripCounter, ms: number): Promise<number> {
  const before = counter.count();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return (counter.count() - before) / ms;
}
