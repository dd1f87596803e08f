import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { assertServable, ConfigError, type Config } from './config.js';
import { createLogger } from './log.js';

// `latchkey serve --workers N`: the primary forks N workers that each run the whole server on
// the same port (node:cluster hands them the connections), replaces a worker that dies, drains
// them all on SIGTERM, and answers the workers' /metrics with every worker's metrics added up.

// A worker that lived this long had started fine: its replacement starts at once.
const STABLE_AFTER_MS = 30_000;
const MAX_RESTART_DELAY_MS = 30_000;
const SCRAPE_TIMEOUT_MS = 5_000;

/**
 * How long to wait before replacing a worker that is the `streak`-th in a row in its slot to die
 * young: at once, then 1 s, 2 s, 4 s ... up to 30 s, so a crash loop does not spin.
 */
export function restartDelay(streak: number): number {
  return streak <= 1 ? 0 : Math.min(1000 * 2 ** (streak - 2), MAX_RESTART_DELAY_MS);
}

/** A worker's metrics as `Registry.getMetricsAsJSON()` gives them. */
type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

type Message =
  // worker -> primary
  | { latchkey: 'ready' }
  | { latchkey: 'metrics-request'; id: number }
  | { latchkey: 'metrics-collected'; id: number; metrics: MetricsJson }
  | { latchkey: 'metrics-collected'; id: number; error: string }
  // primary -> worker
  | { latchkey: 'shutdown' }
  | { latchkey: 'metrics-collect'; id: number }
  | { latchkey: 'metrics-result'; id: number; contentType: string; body: string }
  | { latchkey: 'metrics-result'; id: number; error: string };

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as { latchkey?: unknown }).latchkey === 'string';
}

function toPrimary(message: Message): void {
  // Once the primary is gone the worker is on its way out (node:cluster exits it).
  if (process.connected) process.send?.(message);
}

function toWorker(worker: Worker, message: Message): void {
  if (worker.isConnected()) worker.send(message);
}

interface Member {
  slot: number;
  startedAt: number;
  ready: boolean;
}

interface Scrape {
  asker: Worker;
  askerId: number;
  waiting: Set<Worker>;
  collected: MetricsJson[];
  timer: NodeJS.Timeout;
}

type ScrapeResult = { contentType: string; body: string } | { error: string };

async function aggregate(collected: MetricsJson[]): Promise<ScrapeResult> {
  try {
    const registry = AggregatorRegistry.aggregate(collected);
    return { contentType: registry.contentType, body: await registry.metrics() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/**
 * The primary's side of a scrape: a worker asks, every ready worker sends its own metrics, and
 * the asker gets them added up (counters and histograms summed; each metric says how).
 */
function metricsGatherer(readyWorkers: () => Worker[]) {
  const scrapes = new Map<number, Scrape>();
  let nextScrape = 0;

  const finish = async (id: number, error?: string) => {
    const scrape = scrapes.get(id);
    if (!scrape) return;
    scrapes.delete(id);
    clearTimeout(scrape.timer);
    const result = error === undefined ? await aggregate(scrape.collected) : { error };
    toWorker(scrape.asker, { latchkey: 'metrics-result', id: scrape.askerId, ...result });
  };

  return {
    start(asker: Worker, askerId: number) {
      const id = nextScrape++;
      // Only ready workers are asked: one that is starting (even the asker, which listens a
      // moment before it says it is ready) may not handle the request yet, and has counted nothing.
      const waiting = new Set(readyWorkers());
      const timer = setTimeout(() => void finish(id, `not every worker sent its metrics within ${SCRAPE_TIMEOUT_MS} ms`), SCRAPE_TIMEOUT_MS);
      scrapes.set(id, { asker, askerId, waiting, collected: [], timer });
      for (const worker of waiting) toWorker(worker, { latchkey: 'metrics-collect', id });
      if (waiting.size === 0) void finish(id);
    },
    collected(worker: Worker, id: number, result: { metrics: MetricsJson } | { error: string }) {
      const scrape = scrapes.get(id);
      if (!scrape?.waiting.delete(worker)) return;
      if ('error' in result) {
        void finish(id, result.error);
        return;
      }
      scrape.collected.push(result.metrics);
      if (scrape.waiting.size === 0) void finish(id);
    },
    /** A scrape does not wait for a worker that exited; what it had counted is gone. */
    forget(worker: Worker) {
      for (const [id, scrape] of scrapes) {
        if (scrape.waiting.delete(worker) && scrape.waiting.size === 0) void finish(id);
      }
    },
  };
}

/** The primary: runs until SIGTERM or SIGINT, then until every worker has drained and exited. */
export function serveCluster(config: Config, workers: number): void {
  if (!config.db.url) {
    throw new ConfigError('--workers needs DATABASE_URL: the embedded database belongs to one process (serve without --workers, or use PostgreSQL)');
  }
  assertServable(config);
  const log = createLogger(config);
  const members = new Map<Worker, Member>();
  const streaks = new Array<number>(workers).fill(0);
  const restarts = new Set<NodeJS.Timeout>();
  const metrics = metricsGatherer(() => [...members].filter(([, member]) => member.ready).map(([worker]) => worker));
  let started = false;
  let stopping = false;
  let exitCode = 0;

  const fork = (slot: number) => {
    members.set(cluster.fork(), { slot, startedAt: Date.now(), ready: false });
  };

  const stop = (reason: string, code: number) => {
    stopping = true;
    exitCode = code;
    for (const timer of restarts) clearTimeout(timer);
    restarts.clear();
    log.info({ reason, workers: members.size }, 'stopping: every worker finishes the requests in flight');
    for (const [worker, member] of members) {
      if (member.ready) toWorker(worker, { latchkey: 'shutdown' });
      // A worker still starting has no handler for the message yet; a signal stops it either way.
      else worker.process.kill('SIGTERM');
    }
    if (members.size === 0) process.exit(exitCode);
  };

  // As in a single process: a second SIGINT exits at once, a second SIGTERM changes nothing.
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopping) {
      stop(signal, 0);
      return;
    }
    if (signal !== 'SIGINT') return;
    // The workers exit too: a worker whose primary is gone exits at once.
    log.warn({ signal }, 'second interrupt during shutdown: exiting without waiting for the workers');
    process.exit(1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  cluster.on('message', (worker, message: unknown) => {
    if (!isMessage(message)) return;
    if (message.latchkey === 'ready') {
      const member = members.get(worker);
      if (!member) return;
      member.ready = true;
      if (!started && members.size === workers && [...members.values()].every((each) => each.ready)) {
        started = true;
        log.info({ workers, port: config.http.port }, 'every worker is listening');
      }
    } else if (message.latchkey === 'metrics-request') {
      metrics.start(worker, message.id);
    } else if (message.latchkey === 'metrics-collected') {
      metrics.collected(worker, message.id, 'error' in message ? { error: message.error } : { metrics: message.metrics });
    }
  });

  cluster.on('exit', (worker, code, signal) => {
    const member = members.get(worker);
    if (!member) return;
    members.delete(worker);
    metrics.forget(worker);
    const pid = worker.process.pid;
    if (stopping) {
      if (members.size === 0) {
        log.info('every worker has stopped');
        process.exit(exitCode);
      }
      return;
    }
    if (!started) {
      // As a single process would, a server that cannot start stops (the worker said why).
      log.error({ pid, exitCode: code, signal }, 'a worker stopped before the server was up');
      stop('start-up failed', 1);
      return;
    }
    const streak = Date.now() - member.startedAt < STABLE_AFTER_MS ? streaks[member.slot]! + 1 : 1;
    streaks[member.slot] = streak;
    const delayMs = restartDelay(streak);
    log.warn({ pid, exitCode: code, signal, restartInMs: delayMs }, 'a worker stopped unexpectedly; starting another');
    const timer = setTimeout(() => {
      restarts.delete(timer);
      fork(member.slot);
    }, delayMs);
    restarts.add(timer);
  });

  log.info({ workers, pid: process.pid }, 'starting workers');
  for (let slot = 0; slot < workers; slot += 1) fork(slot);
}

/**
 * In a worker that has started listening: answers the primary's requests for this worker's
 * metrics, runs `shutdown` when the primary asks, and tells the primary it is ready.
 */
export function joinCluster(registry: Registry, shutdown: () => void): void {
  process.on('message', (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.latchkey === 'shutdown') {
      shutdown();
    } else if (message.latchkey === 'metrics-collect') {
      const { id } = message;
      registry.getMetricsAsJSON().then(
        (metrics) => toPrimary({ latchkey: 'metrics-collected', id, metrics }),
        (error: unknown) => toPrimary({ latchkey: 'metrics-collected', id, error: (error as Error).message }),
      );
    }
  });
  toPrimary({ latchkey: 'ready' });
}

const pendingResults = new Map<number, { resolve: (value: { contentType: string; body: string }) => void; reject: (error: Error) => void }>();
let nextResult = 0;
let awaitingResults = false;

function onResult(message: unknown): void {
  if (!isMessage(message) || message.latchkey !== 'metrics-result') return;
  const pending = pendingResults.get(message.id);
  if (!pending) return;
  pendingResults.delete(message.id);
  if ('error' in message) pending.reject(new Error(`the group's metrics could not be gathered: ${message.error}`));
  else pending.resolve({ contentType: message.contentType, body: message.body });
}

/** In a worker: the metrics of every worker in the group, added up by the primary (a scrape reaches one worker). */
export function groupMetrics(): Promise<{ contentType: string; body: string }> {
  if (!awaitingResults) {
    awaitingResults = true;
    process.on('message', onResult);
  }
  const id = nextResult++;
  return new Promise((resolve, reject) => {
    // The primary answers within its own scrape timeout; past a margin on it, the channel is gone.
    const timer = setTimeout(() => {
      pendingResults.delete(id);
      reject(new Error('the primary did not answer with the group\'s metrics'));
    }, SCRAPE_TIMEOUT_MS + 1000);
    pendingResults.set(id, {
      resolve: (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      reject: (error) => {
        clearTimeout(timer);
        reject(error);
      },
    });
    toPrimary({ latchkey: 'metrics-request', id });
  });
}
