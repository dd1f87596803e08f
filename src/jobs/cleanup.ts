import type { Deps } from '../deps.js';
import { deleteAuditEventsBefore } from '../store/audit-events.js';
import { deleteExpiredEmailTokens } from '../store/email-tokens.js';
import { deleteOldMail } from '../store/mail-outbox.js';
import { deleteExpiredPayloads } from '../store/oidc-payloads.js';
import { deleteExpiredThrottles } from '../store/throttles.js';
import { deleteExpiredUpstreamSignIns } from '../store/upstream-sign-ins.js';
import { deleteExpiredChallenges } from '../store/webauthn-challenges.js';
import { deleteOldEvents } from '../store/webhooks.js';
import { now } from '../util/clock.js';
import { every, type Job } from './every.js';

const BATCH = 1000;
const MAX_BATCHES_PER_RUN = 20;

/** The job's lock name: every process of a deployment must use the same one. */
export const CLEANUP_JOB = 'cleanup';

type Deleter = (deps: Deps, at: Date, batch: number) => Promise<number>;

/** What retention removes, each in bounded batches so a backlog never becomes one huge statement. */
const deleters: Record<string, Deleter> = {
  'expired provider artifacts': (deps, at, batch) => deleteExpiredPayloads(deps.db.knex, at, batch),
  'expired throttles': (deps, at, batch) => deleteExpiredThrottles(deps.db.knex, at, batch),
  'expired email links': (deps, at, batch) => deleteExpiredEmailTokens(deps.db.knex, at, batch),
  'expired passkey challenges': (deps, at, batch) => deleteExpiredChallenges(deps.db.knex, at, batch),
  'abandoned upstream sign-ins': (deps, at, batch) => deleteExpiredUpstreamSignIns(deps.db.knex, at, batch),
  'old outbox mail': (deps, at, batch) => deleteOldMail(deps.db.knex, secondsBefore(at, deps.config.retention.sentMail), batch),
  'old audit events': (deps, at, batch) => deleteAuditEventsBefore(deps.db.knex, secondsBefore(at, deps.config.retention.auditEvents), batch),
  'old webhook events': (deps, at, batch) => deleteOldEvents(deps.db.knex, secondsBefore(at, deps.config.retention.webhookEvents), batch),
};

function secondsBefore(at: Date, seconds: number): Date {
  return new Date(at.getTime() - seconds * 1000);
}

async function drain(deps: Deps, deleter: Deleter, at: Date, signal: AbortSignal | undefined): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < MAX_BATCHES_PER_RUN && !signal?.aborted; batch += 1) {
    const deleted = await deleter(deps, at, BATCH);
    total += deleted;
    if (deleted < BATCH) break;
  }
  return total;
}

/**
 * One cleanup pass; returns how many rows of each kind went. Once `signal` aborts (the server
 * is shutting down) it ends after the batch in progress; the next pass picks up the rest.
 */
export async function runCleanup(deps: Deps, signal?: AbortSignal): Promise<Record<string, number>> {
  const at = now();
  const counts: Record<string, number> = {};
  for (const [what, deleter] of Object.entries(deleters)) counts[what] = await drain(deps, deleter, at, signal);
  return counts;
}

/**
 * Cleanup on one process of the deployment at a time: the others would only queue behind the
 * same row locks, for nothing left to delete.
 */
export function startCleanup(deps: Deps): Job {
  return every(
    deps,
    CLEANUP_JOB,
    deps.config.cleanup.intervalMs,
    async (signal) => {
      const counts = await runCleanup(deps, signal);
      for (const [what, deleted] of Object.entries(counts)) if (deleted > 0) deps.log.debug({ deleted }, `deleted ${what}`);
    },
    { oneNodeAtATime: true },
  );
}
