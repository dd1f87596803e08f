/**
 * The load generator, in a process of its own so it never shares an event loop with what it
 * measures. run.ts sends one job at a time over IPC: an autocannon run, or a number of
 * scripted sign-ins (authorize -> login -> consent -> token) at once.
 */
import autocannon from 'autocannon';
import * as oidc from 'openid-client';
import { Browser } from '../test/helpers/browser.js';
import { redeem, signIn, type RelyingParty } from '../test/helpers/rp.js';
import { percentile } from './stats.js';
import { viaProxy } from './workloads.js';

export interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface CannonJob {
  type: 'cannon';
  origin: string;
  connections: number;
  /** Seconds; or `requests` used once each, in order, when `once` is set. */
  duration?: number;
  requests: RequestSpec[];
  once?: boolean;
  expectStatus: number;
}

export interface FlowJob {
  type: 'flows';
  issuer: string;
  client: { clientId: string; clientSecret: string; redirectUri: string };
  user: { email: string; password: string };
  concurrency: number;
  duration: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  /** Responses with another status than expected, connection errors and timeouts. */
  errors: number;
  p50: number;
  p99: number;
}

function cannon(job: CannonJob): Promise<LoadResult> {
  let next = 0;
  const requests = job.requests.map((spec) => ({ method: spec.method, path: spec.path, headers: spec.headers ?? {}, ...(spec.body !== undefined ? { body: spec.body } : {}) }));
  const options: autocannon.Options = {
    url: job.origin,
    connections: job.connections,
    pipelining: 1,
    ...(job.once ? { amount: requests.length } : { duration: job.duration ?? 10 }),
    requests:
      requests.length === 1
        ? requests
        : [
            {
              setupRequest: (request) => ({ ...request, ...requests[next++ % requests.length]! }),
            },
          ],
  };
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => {
      if (error) return reject(error);
      const answered = Object.values(result.statusCodeStats ?? {}).reduce((sum, entry) => sum + (entry.count ?? 0), 0);
      const expected = result.statusCodeStats?.[`${job.expectStatus}`]?.count ?? 0;
      resolve({
        requests: answered,
        seconds: result.duration,
        errors: answered - expected + result.errors,
        p50: result.latency.p50,
        p99: result.latency.p99,
      });
    });
  });
}

async function flows(job: FlowJob): Promise<LoadResult> {
  const config = await oidc.discovery(new URL(job.issuer), job.client.clientId, undefined, oidc.ClientSecretBasic(job.client.clientSecret), {
    [oidc.customFetch]: (url, options) => viaProxy(url, options as RequestInit),
  });
  const rp: RelyingParty = { config, clientId: job.client.clientId, clientSecret: job.client.clientSecret, redirectUri: job.client.redirectUri };
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + job.duration * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const flowStarted = performance.now();
      try {
        // A new browser each time (no session), and prompt=consent so every flow has both steps.
        const { callback, request } = await signIn(new Browser(viaProxy), rp, job.user, { prompt: 'consent' });
        await redeem(rp, callback, request);
        latencies.push(performance.now() - flowStarted);
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    seconds: (performance.now() - started) / 1000,
    errors,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

process.on('message', (job: CannonJob | FlowJob) => {
  (job.type === 'cannon' ? cannon(job) : flows(job)).then(
    (result) => process.send?.({ ok: true, result }),
    (error: unknown) => process.send?.({ ok: false, message: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
