import type { BatcherOptions } from '../util/batcher.js';
import { isDatabaseUnavailable } from './unavailable.js';

/**
 * How the statements every token request makes are gathered across requests: one batch of a
 * kind out at a time while the next fills (fewer, larger batches cost the least here, since
 * each round trip is a system call and a wake-up on both ends), a second so one slow batch
 * does not hold up the rest, and the pool left to everything else.
 */
export const DATABASE_BATCHING: BatcherOptions = { maxInFlight: 2, maxBatch: 100, sharedFailure: isDatabaseUnavailable };
