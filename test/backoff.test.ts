// The retry settings of parallel() (lib/internal/backoff.ts).
import t from 'tap';
import { parallel } from '../lib/parallel.js';
import { thrown } from './fixtures/helpers.js';

const MUST = 'a number of milliseconds >= 0 and <= 2147483647';

t.test('parallel() refuses a retry.minDelay of 2^31 ms or more, which setTimeout would fire after 1 ms', async (t) => {
  for (const minDelay of [2 ** 31, 2 ** 40, Infinity]) {
    const err = thrown(() => parallel(async (n: number) => n, { retry: { retries: 1, minDelay, maxDelay: 2 ** 31 - 1 } }));
    t.ok(err instanceof RangeError);
    t.match((err as Error).message, `parallel(): options.retry.minDelay must be ${MUST}, got `);
  }
});

t.test('parallel() refuses a retry.maxDelay of 2^31 ms or more, which setTimeout would fire after 1 ms', async (t) => {
  const err = thrown(() => parallel(async (n: number) => n, { retry: { retries: 1, maxDelay: 2 ** 31 } }));
  t.ok(err instanceof RangeError);
  t.equal((err as Error).message, `parallel(): options.retry.maxDelay must be ${MUST}, got 2147483648 (number)`);
});

t.test('parallel() takes retry delays up to 2^31 - 1 ms, and 0', async (t) => {
  parallel(async (n: number) => n, { retry: { retries: 1, minDelay: 0, maxDelay: 2 ** 31 - 1 } }).destroy();
  parallel(async (n: number) => n, { retry: { retries: 1, minDelay: 2 ** 31 - 1, maxDelay: 2 ** 31 - 1 } }).destroy();
  const negative = thrown(() => parallel(async (n: number) => n, { retry: { minDelay: -1 } }));
  t.ok(negative instanceof RangeError);
  t.equal((negative as Error).message, `parallel(): options.retry.minDelay must be ${MUST}, got -1 (number)`);
  const text = thrown(() => parallel(async (n: number) => n, { retry: { maxDelay: '5' as never } }));
  t.ok(text instanceof TypeError);
});
