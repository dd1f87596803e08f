import http from 'node:http';
import https from 'node:https';
import { Webhook } from 'standardwebhooks';
import type { Deps } from '../deps.js';
import { disableFailingWebhook, openSecret } from '../domain/webhooks.js';
import { assertAllowedLiteral, guardedLookup } from '../domain/webhook-addresses.js';
import { claimDueDeliveries, firstAttemptAt, recordAttempt, updateEndpointHealth, type ClaimedDelivery } from '../store/webhooks.js';
import { now } from '../util/clock.js';
import { every, type Job } from './every.js';

const BATCH = 20;
/** Attempts at once to one endpoint from one node. */
const PER_ENDPOINT = 4;
/**
 * How long a claimed delivery stays with its worker: twice the attempt's timeout and then some,
 * so a live worker is never overtaken mid-attempt, while a dead one's deliveries soon come due.
 */
function leaseMs(timeoutMs: number): number {
  return 2 * timeoutMs + 5000;
}
/** Bytes of a receiver's answer read before the connection is dropped: only the status counts. */
const RESPONSE_LIMIT = 64 * 1024;
const USER_AGENT = 'Latchkey-Webhooks/1';

/**
 * Seconds before each retry: growing gaps over about a day (23.6 hours, ten attempts in all),
 * long enough to ride out a receiver's deploy or outage.
 */
export const RETRY_DELAYS_SECONDS = [10, 60, 300, 1800, 3600, 7200, 14400, 28800, 28800] as const;

/** When attempt `attempt` (1-based) failed at `at`, the next is due then; null when it was the last. */
export function nextAttemptAt(attempt: number, at: Date): Date | null {
  const delay = RETRY_DELAYS_SECONDS[attempt - 1];
  if (delay === undefined) return null;
  // Up to 10% later, so deliveries that failed together do not all come back together.
  return new Date(at.getTime() + delay * 1000 * (1 + Math.random() * 0.1));
}

interface Outcome {
  statusCode: number | null;
  error: string | null;
}

function post(deps: Deps, target: URL, body: string, headers: Record<string, string>, stopping: AbortSignal | undefined): Promise<Outcome> {
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const request = client.request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': USER_AGENT },
        lookup: guardedLookup(deps.config.webhooks),
        signal: stopping ? AbortSignal.any([AbortSignal.timeout(deps.config.webhooks.timeoutMs), stopping]) : AbortSignal.timeout(deps.config.webhooks.timeoutMs),
      },
      (response) => {
        const statusCode = response.statusCode ?? 0;
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > RESPONSE_LIMIT) response.destroy();
        });
        const settle = () =>
          resolve({
            statusCode,
            error: statusCode >= 300 && statusCode < 400 ? `redirects are not followed (HTTP ${statusCode})` : null,
          });
        response.on('end', settle);
        response.on('close', settle);
        response.on('error', settle);
      },
    );
    request.on('error', (error: Error) => {
      const message = error.name === 'AbortError' || error.name === 'TimeoutError' ? `no answer within ${deps.config.webhooks.timeoutMs} ms` : error.message;
      resolve({ statusCode: null, error: message.slice(0, 500) });
    });
    request.end(body);
  });
}

/**
 * One attempt at one delivery: signed with the endpoint's secret, sent, and recorded. An attempt
 * cut short by shutdown is not recorded: its lease runs out and a node delivers it again.
 */
async function attempt(deps: Deps, delivery: ClaimedDelivery, stopping: AbortSignal | undefined): Promise<void> {
  const attemptedAt = now();
  const started = performance.now();
  let outcome: Outcome;
  try {
    const target = new URL(delivery.url);
    assertAllowedLiteral(target, deps.config.webhooks);
    const secrets = [delivery.sealedSecret, ...(delivery.previousSealedSecret ? [delivery.previousSealedSecret] : [])];
    // Space-separated signatures: a receiver accepts the request if any one verifies.
    const signature = secrets
      .map((sealedSecret) => new Webhook(openSecret(deps, { id: delivery.endpointId, sealedSecret })).sign(delivery.eventId, attemptedAt, delivery.payload))
      .join(' ');
    outcome = await post(deps, target, delivery.payload, {
      'webhook-id': delivery.eventId,
      'webhook-timestamp': String(Math.floor(attemptedAt.getTime() / 1000)),
      'webhook-signature': signature,
    }, stopping);
  } catch (error) {
    outcome = { statusCode: null, error: (error instanceof Error ? error.message : String(error)).slice(0, 500) };
  }
  const succeeded = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
  if (!succeeded && stopping?.aborted) return;
  const finishedAt = now();
  const retryAt = succeeded ? null : nextAttemptAt(delivery.attempt, finishedAt);
  const recorded = await recordAttempt(
    deps.db.knex,
    {
      deliveryId: delivery.id,
      attempt: delivery.attempt,
      attemptedAt,
      statusCode: outcome.statusCode,
      latencyMs: Math.round(performance.now() - started),
      error: outcome.error,
      succeeded,
    },
    retryAt,
  );
  // Overtaken by another worker after the lease ran out: that worker's attempt is the one that counts.
  if (!recorded) return;
  deps.metrics.webhookDeliveries.inc({ outcome: succeeded ? 'success' : retryAt ? 'retry' : 'failed' });
  const failingSince = await updateEndpointHealth(deps.db.knex, delivery.endpointId, succeeded, attemptedAt);
  if (succeeded) return;
  deps.log.warn({ webhookId: delivery.endpointId, deliveryId: delivery.id, attempt: delivery.attempt, statusCode: outcome.statusCode, error: outcome.error }, 'webhook delivery failed');
  if (retryAt !== null || failingSince === null) return;
  // Given up, and nothing has reached this endpoint since this delivery's first attempt: it has
  // failed for the whole retry window.
  const since = await firstAttemptAt(deps.db.knex, delivery.id);
  if (since === undefined || failingSince > since) return;
  const reason = `every attempt failed from ${failingSince.toISOString()} to ${finishedAt.toISOString()}; last: ${outcome.error ?? `HTTP ${outcome.statusCode}`}`;
  if (await disableFailingWebhook(deps.db.knex, delivery.endpointId, since, reason)) {
    deps.log.warn({ webhookId: delivery.endpointId }, 'webhook disabled: it kept failing');
  }
}

/** Resolves after `ms`, or at once when `settled` does first; leaves no timer behind. */
async function pause(ms: number, settled: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * One pass: claims what is due (each delivery by one worker of the deployment) and attempts it,
 * up to BATCH at a time and PER_ENDPOINT per endpoint, claiming more as attempts finish, until
 * nothing is due. Returns how many attempts were made. Once `signal` aborts nothing new is
 * claimed and attempts in flight are cut short.
 */
export async function deliverDueWebhooks(deps: Deps, signal?: AbortSignal): Promise<number> {
  const running = new Map<Promise<void>, string>();
  let attempted = 0;
  try {
    for (;;) {
      const { claimed, skippedBusy } = running.size < BATCH && !signal?.aborted ? await claimMore(deps, running, signal) : { claimed: 0, skippedBusy: false };
      attempted += claimed;
      // Done when nothing was due; an endpoint left out as busy may have come free during the claim.
      if (running.size === 0 && claimed === 0 && !skippedBusy) return attempted;
      if (running.size === 0) continue;
      // Nothing more was due, or every slot is taken: wait for an attempt to finish, but look
      // again after a poll interval, so new events are not held up behind a slow receiver.
      if (claimed === 0 || running.size >= BATCH) await pause(deps.config.webhooks.pollIntervalMs, Promise.race(running.keys()));
    }
  } finally {
    // A failed claim (the database went away) still lets the attempts in flight finish first.
    await Promise.allSettled(running.keys());
  }
}

/** Claims what is due into the free slots and starts attempting it; says how many, and whether a busy endpoint was left out. */
async function claimMore(deps: Deps, running: Map<Promise<void>, string>, signal: AbortSignal | undefined): Promise<{ claimed: number; skippedBusy: boolean }> {
  const perEndpoint = new Map<string, number>();
  for (const endpointId of running.values()) perEndpoint.set(endpointId, (perEndpoint.get(endpointId) ?? 0) + 1);
  const at = now();
  const busy = [...perEndpoint].filter(([, count]) => count >= PER_ENDPOINT).map(([endpointId]) => endpointId);
  const due = await claimDueDeliveries(deps.db.knex, {
    at,
    limit: BATCH - running.size,
    perEndpoint: PER_ENDPOINT,
    leaseUntil: new Date(at.getTime() + leaseMs(deps.config.webhooks.timeoutMs)),
    skipEndpoints: busy,
  });
  for (const delivery of due) {
    const work: Promise<void> = attempt(deps, delivery, signal)
      .catch((error: unknown) => deps.log.warn({ err: error, deliveryId: delivery.id }, 'could not record a webhook attempt; it is retried when its lease ends'))
      .finally(() => running.delete(work));
    running.set(work, delivery.endpointId);
  }
  return { claimed: due.length, skippedBusy: busy.length > 0 };
}

/** Every node delivers: the claim hands each delivery to one of them. */
export function startWebhookDelivery(deps: Deps): Job {
  return every(deps, 'webhook delivery', deps.config.webhooks.pollIntervalMs, async (signal) => {
    await deliverDueWebhooks(deps, signal);
  });
}
