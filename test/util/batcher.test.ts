import test from 'ava';
import { createBatcher } from '../../src/util/batcher.js';

const outage = Object.assign(new Error('the database is away'), { shared: true });
const options = { maxInFlight: 1, maxBatch: 100, sharedFailure: (error: unknown) => (error as { shared?: boolean }).shared === true };

test('an item alone goes out at once; items arriving meanwhile share the next batch, answered in order', async (t) => {
  const batches: number[][] = [];
  let release: () => void = () => undefined;
  const double = createBatcher<number, number>(async (items) => {
    batches.push(items);
    if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
    return items.map((item) => item * 2);
  }, options);
  const first = double(1);
  const rest = [2, 3, 4].map(double);
  release();
  t.deepEqual(await Promise.all([first, ...rest]), [2, 4, 6, 8]);
  t.deepEqual(batches, [[1], [2, 3, 4]]);
});

test('a batch never holds more than maxBatch items', async (t) => {
  const sizes: number[] = [];
  const echo = createBatcher<number, number>(async (items) => {
    sizes.push(items.length);
    await new Promise((resolve) => setTimeout(resolve, 5));
    return items;
  }, { ...options, maxBatch: 3 });
  await Promise.all(Array.from({ length: 10 }, (_, index) => echo(index)));
  t.true(sizes.every((size) => size <= 3));
  t.is(sizes.reduce((sum, size) => sum + size, 0), 10);
});

test('an item the batch fails on is retried alone, so only it fails', async (t) => {
  const check = createBatcher<number, number>(async (items) => {
    if (items.includes(13)) throw new Error('13 is refused');
    return items;
  }, options);
  const blocker = check(0);
  const results = await Promise.allSettled([12, 13, 14].map(check));
  await blocker;
  t.deepEqual(
    results.map((result) => result.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  t.is((results[1] as PromiseRejectedResult).reason.message, '13 is refused');
});

test('a failure every item shares (the database away) reaches each of them without retries', async (t) => {
  let runs = 0;
  let first = true;
  const fail = createBatcher<number, number>(async (items) => {
    runs += 1;
    if (first) {
      first = false;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return items;
    }
    throw outage;
  }, options);
  const blocker = fail(0);
  const results = await Promise.allSettled([1, 2, 3].map(fail));
  await blocker;
  t.true(results.every((result) => result.status === 'rejected' && result.reason === outage));
  t.is(runs, 2, 'one run for the blocker, one for the shared batch');
});
