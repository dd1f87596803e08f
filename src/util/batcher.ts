export interface BatcherOptions {
  /** Batches sent at once; further items wait for one of them to come back. */
  readonly maxInFlight: number;
  /** Items in one batch at most. */
  readonly maxBatch: number;
  /**
   * Whether an error means the whole batch failed for a reason every item shares (the
   * database away): then each item gets it. Any other error is retried item by item, so one
   * item the database refuses cannot fail the others with it.
   */
  readonly sharedFailure: (error: unknown) => boolean;
}

interface Pending<I, O> {
  item: I;
  resolve(output: O): void;
  reject(error: unknown): void;
}

/**
 * Gathers what concurrent requests ask for into batches: an item goes out at once when fewer
 * than `maxInFlight` batches are out, and otherwise with the items that arrive while it waits.
 * Under load, many requests share one round trip to the database and one commit; alone, an
 * item waits for nothing. `run` answers the items of a batch in their order.
 */
export function createBatcher<I, O>(run: (items: I[]) => Promise<O[]>, options: BatcherOptions): (item: I) => Promise<O> {
  let queue: Pending<I, O>[] = [];
  let inFlight = 0;

  async function send(batch: Pending<I, O>[]): Promise<void> {
    try {
      const outputs = await run(batch.map((entry) => entry.item));
      batch.forEach((entry, index) => entry.resolve(outputs[index]!));
    } catch (error) {
      if (batch.length === 1 || options.sharedFailure(error)) {
        for (const entry of batch) entry.reject(error);
        return;
      }
      // One at a time: in order (two writes of one row keep theirs) and within the batch's share of the pool.
      for (const entry of batch) await send([entry]);
    }
  }

  function pump(): void {
    while (inFlight < options.maxInFlight && queue.length > 0) {
      const batch = queue.slice(0, options.maxBatch);
      queue = queue.slice(batch.length);
      inFlight += 1;
      void send(batch).finally(() => {
        inFlight -= 1;
        pump();
      });
    }
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      pump();
    });
}
