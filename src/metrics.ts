import cluster from 'node:cluster';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { groupMetrics } from './cluster.js';
import type { Database, Knex } from './db/connect.js';
import type { Deps } from './deps.js';
import { keyState } from './domain/keys.js';
import type { Logger } from './log.js';
import { listSigningKeys } from './store/keys.js';
import { now } from './util/clock.js';

const PREFIX = 'latchkey_';

export type LoginOutcome = 'success' | 'invalid_credentials' | 'throttled' | 'unverified';
const LOGIN_OUTCOMES: readonly LoginOutcome[] = ['success', 'invalid_credentials', 'throttled', 'unverified'];

/** The metrics other modules record into; the scrape-time ones (pool, keys, process) are only in the registry. */
export interface Metrics {
  /** One per Deps, never prom-client's global one: a test process builds many servers. */
  readonly registry: Registry;
  /** Labels: route (a route pattern or the provider's route name, never a raw path), method, status. */
  readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  readonly tokensIssued: Counter<'grant_type'>;
  readonly logins: Counter<'outcome'>;
  /** Webhook delivery attempts: succeeded, failed and retried later, or failed for the last time. */
  readonly webhookDeliveries: Counter<'outcome'>;
}

type Refusal = 'auth.invalid_credentials' | 'auth.throttled' | 'auth.email_unverified';
const REFUSALS: Record<Refusal, LoginOutcome> = {
  'auth.invalid_credentials': 'invalid_credentials',
  'auth.throttled': 'throttled',
  'auth.email_unverified': 'unverified',
};

/**
 * The outcome a sign-in refused on the login page counts as. A disabled account counts as
 * invalid_credentials: sign-in tells it apart from a wrong password nowhere.
 */
export function loginOutcome(code: Refusal): LoginOutcome {
  return REFUSALS[code];
}

/** The part of tarn's pool (knex's) read on a scrape. */
interface Pool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

function poolOf(knex: Knex): Pool | undefined {
  return (knex.client as { pool?: Pool }).pool;
}

let processMetrics: Registry | undefined;

/**
 * CPU, memory, event loop and GC belong to the process, not to one server in it (tests run
 * many), and collecting them starts observers: once per process.
 */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: PREFIX });
  }
  return processMetrics;
}

export function createMetrics(db: Database, log: Logger): Metrics {
  const registry = new Registry();

  const httpDuration = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'Time to answer an HTTP request, by route, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const tokensIssued = new Counter({
    name: `${PREFIX}tokens_issued_total`,
    help: 'Successful token endpoint grants, by grant type.',
    labelNames: ['grant_type'] as const,
    registers: [registry],
  });
  const logins = new Counter({
    name: `${PREFIX}logins_total`,
    help: 'Password sign-ins on the login page, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of LOGIN_OUTCOMES) logins.inc({ outcome }, 0);

  // The embedded engine has one pool for both; PostgreSQL has the request pool and the direct one.
  const pools: Array<[string, Knex]> = db.direct === db.knex ? [['main', db.knex]] : [['main', db.knex], ['direct', db.direct]];
  const readPools = (gauge: Gauge<'pool'> | Gauge<'pool' | 'state'>, read: (pool: Pool) => Array<[Record<string, string>, number]>) => {
    gauge.reset();
    for (const [name, knex] of pools) {
      const pool = poolOf(knex);
      if (pool) for (const [labels, value] of read(pool)) gauge.set({ pool: name, ...labels }, value);
    }
  };
  new Gauge({
    name: `${PREFIX}db_pool_connections`,
    help: 'Database connections held by a pool, in use by a query or idle.',
    labelNames: ['pool', 'state'] as const,
    registers: [registry],
    collect() {
      readPools(this, (pool) => [
        [{ state: 'used' }, pool.numUsed()],
        [{ state: 'free' }, pool.numFree()],
      ]);
    },
  });
  new Gauge({
    name: `${PREFIX}db_pool_pending_acquires`,
    help: 'Queries waiting for a database connection from a pool.',
    labelNames: ['pool'] as const,
    registers: [registry],
    collect() {
      readPools(this, (pool) => [[{}, pool.numPendingAcquires()]]);
    },
  });
  new Gauge({
    name: `${PREFIX}db_pool_max_connections`,
    help: 'The most connections a pool opens.',
    labelNames: ['pool'] as const,
    registers: [registry],
    collect() {
      readPools(this, (pool) => [[{}, pool.max]]);
    },
  });

  new Gauge({
    name: `${PREFIX}signing_key_age_seconds`,
    help: 'Seconds since each published signing key was made, by kid, algorithm and state (pending, active, retiring).',
    labelNames: ['kid', 'alg', 'state'] as const,
    registers: [registry],
    // Every worker of `serve --workers` sees the same keys: adding their ages up would be wrong.
    aggregator: 'max',
    async collect() {
      this.reset();
      try {
        const at = now();
        for (const key of await listSigningKeys(db.knex)) {
          const state = keyState(key, at);
          // Retired keys are out of the JWKS for good; leaving them out keeps the series bounded.
          if (state === 'retired') continue;
          this.set({ kid: key.kid, alg: key.alg, state }, Math.max(0, (at.getTime() - key.createdAt.getTime()) / 1000));
        }
      } catch (error) {
        // A scrape during a database outage still reports everything else; /readyz tells the outage.
        log.debug({ err: error }, 'could not read signing keys for metrics');
      }
    },
  });

  const webhookDeliveries = new Counter({
    name: `${PREFIX}webhook_deliveries_total`,
    help: 'Webhook delivery attempts by outcome: success, retry (failed, tried again later) or failed (given up).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of ['success', 'retry', 'failed']) webhookDeliveries.inc({ outcome }, 0);
  return { registry: Registry.merge([processRegistry(), registry]), httpDuration, tokensIssued, logins, webhookDeliveries };
}

/** The Prometheus exposition of everything this process measures (a worker of `serve --workers`: the whole group). */
export async function collectMetrics(deps: Pick<Deps, 'metrics'>): Promise<{ contentType: string; body: string }> {
  if (cluster.isWorker) return groupMetrics();
  return { contentType: deps.metrics.registry.contentType, body: await deps.metrics.registry.metrics() };
}
