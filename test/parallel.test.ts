import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError, TimeoutError } from '../lib/errors.js';
import { map } from '../lib/map.js';
import { parallel, Parallel } from '../lib/parallel.js';
import { pipeline } from '../lib/pipeline.js';
import { toArray } from '../lib/to-array.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { counted, deferred, drain, endless, rejection, slowSink, sourceState, thrown, turns } from './fixtures/helpers.js';
import { stageContract } from './fixtures/contract.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const sorted = (values: number[]): number[] => [...values].sort((a, b) => a - b);

/** An async function that counts calls in flight and remembers the most seen at once. */
function instrumented<T>(latency: (item: T) => number): {
  fn: (item: T, ctx: { signal: AbortSignal }) => Promise<T>;
  max: () => number;
  started: () => number;
} {
  let inFlight = 0;
  let max = 0;
  let started = 0;
  return {
    fn: async (item, { signal }) => {
      started++;
      max = Math.max(max, ++inFlight);
      try {
        await sleep(latency(item), undefined, { signal });
        return item;
      } finally {
        inFlight--;
      }
    },
    max: () => max,
    started: () => started,
  };
}

t.test('parallel() never has more calls in flight than concurrency', async (t) => {
  const pool = instrumented<number>((n) => (n * 7) % 5);
  const out = await toArray(range(60), parallel(pool.fn, { concurrency: 4 }));
  t.same(out, range(60));
  t.equal(pool.max(), 4);
});

t.test('parallel() runs up to 8 calls at once by default', async (t) => {
  const pool = instrumented<number>(() => 2);
  await toArray(range(40), parallel(pool.fn));
  t.equal(pool.max(), 8);
});

t.test('parallel() with concurrency 1 runs one call at a time', async (t) => {
  const pool = instrumented<number>(() => 1);
  t.same(await toArray(range(10), parallel(pool.fn, { concurrency: 1 })), range(10));
  t.equal(pool.max(), 1);
});

t.test('parallel() keeps the input order with random latencies', async (t) => {
  const latencies = range(50).map(() => Math.floor(Math.random() * 8));
  const out = await toArray(
    range(50),
    parallel(
      async (n: number) => {
        await sleep(latencies[n]!);
        return n * 2;
      },
      { concurrency: 6 },
    ),
  );
  t.same(
    out,
    range(50).map((n) => n * 2),
  );
});

t.test('parallel() unordered yields the same multiset of results', async (t) => {
  const latencies = range(50).map(() => Math.floor(Math.random() * 8));
  const out = await toArray(
    range(50),
    parallel(
      async (n: number) => {
        await sleep(latencies[n]!);
        return n;
      },
      { concurrency: 6, ordered: false },
    ),
  );
  t.same(sorted(out), range(50));
});

t.test('parallel() unordered emits results in completion order', async (t) => {
  const release = [deferred(), deferred(), deferred()];
  const p = parallel(
    async (n: number) => {
      await release[n]!.promise;
      return n;
    },
    { ordered: false },
  );
  const out = toArray([0, 1, 2], p);
  await turns();
  release[2]!.resolve();
  await turns();
  release[0]!.resolve();
  await turns();
  release[1]!.resolve();
  t.same(await out, [2, 0, 1]);
});

t.test('parallel() passes the 0-based item index and a live signal to the function', async (t) => {
  const seen: [string, number, boolean][] = [];
  await toArray(
    ['a', 'b', 'c'],
    parallel(async (s: string, { index, signal }) => {
      seen.push([s, index, signal.aborted]);
      return s;
    }),
  );
  t.same(seen, [
    ['a', 0, false],
    ['b', 1, false],
    ['c', 2, false],
  ]);
});

t.test('parallel() takes a sync function', async (t) => {
  t.same(
    await toArray(
      [1, 2, 3],
      parallel((n: number) => n + 1),
    ),
    [2, 3, 4],
  );
});

t.test('parallel() drops a result of undefined or null', async (t) => {
  t.same(
    await toArray(
      [1, 2, 3, 4],
      parallel(async (n: number) => (n === 2 ? undefined : n === 3 ? null : n)),
    ),
    [1, 4],
  );
});

t.test('parallel() holds at most concurrency results back while waiting for a slow head', async (t) => {
  // Item 0 is slow, every other item is instant: in ordered mode their results must wait for it, and
  // no call starts beyond the pool, so the reorder buffer holds at most concurrency - 1 results.
  const head = deferred();
  let started = 0;
  const p = parallel(
    async (n: number) => {
      started++;
      if (n === 0) await head.promise;
      return n;
    },
    { concurrency: 4 },
  );
  const out = toArray(range(30), p);
  await turns(10);
  t.equal(started, 4);
  head.resolve();
  t.same(await out, range(30));
});

t.test('parallel() starts no new call while downstream is full', async (t) => {
  let started = 0;
  const p = parallel(
    async (n: number) => {
      started++;
      return n;
    },
    { concurrency: 2, highWaterMark: 3 },
  );
  for (let i = 0; i < 50; i++) p.write(i);
  await turns(10);
  const whileFull = started;
  t.ok(whileFull <= 3 + 2, `${whileFull} calls started with nobody reading`);
  await turns(10);
  t.equal(started, whileFull, 'no call started while the readable side stayed full');
  // Results already finished are passed on first (at most 2 x concurrency are held): read past them.
  for (let i = 0; i < 3 + 2 * 2; i++) p.read();
  await turns(10);
  t.ok(started > whileFull, 'reading lets calls start again');
  p.destroy();
});

t.test('parallel() keeps items in flight bounded between a fast producer and a slow consumer', async (t) => {
  const state = sourceState();
  let maxInFlight = 0;
  const sink = slowSink<number>({ onItem: () => (maxInFlight = Math.max(maxInFlight, state.produced - sink.items.length)) });
  await pipeline(
    counted(1000, state),
    parallel(async (n: number) => n, { concurrency: 8 }),
    sink,
  );
  t.equal(sink.items.length, 1000);
  t.ok(maxInFlight <= 60, `at most ${maxInFlight} items in flight`);
});

t.test('parallel() fails an item with a TimeoutError and aborts its signal when the timeout runs out', async (t) => {
  const check = leakCheck();
  let seen: AbortSignal | undefined;
  const err = await rejection(
    toArray(
      [1],
      parallel(
        async (n: number, { signal }) => {
          seen = signal;
          return sleep(60_000, n, { signal });
        },
        { timeout: 15 },
      ),
    ),
  );
  t.ok(err instanceof TimeoutError);
  t.ok(err instanceof SluiceError);
  t.equal((err as TimeoutError).code, 'ERR_SLUICE_TIMEOUT');
  t.equal((err as TimeoutError).timeout, 15);
  t.match((err as Error).message, /^parallel\(\): the call for item 0 timed out after 15 ms$/);
  t.equal(seen?.aborted, true);
  t.equal(seen?.reason, err);
  await check.verify();
});

t.test('parallel() lets calls that finish in time through when a timeout is set', async (t) => {
  const check = leakCheck();
  t.same(
    await toArray(
      [1, 2, 3],
      parallel(async (n: number) => n * 2, { timeout: 60_000 }),
    ),
    [2, 4, 6],
  );
  await check.verify();
});

t.test('parallel() retries a failed call until it succeeds', async (t) => {
  const tries = new Map<number, number>();
  const out = await toArray(
    [1, 2, 3],
    parallel(
      async (n: number) => {
        const k = (tries.get(n) ?? 0) + 1;
        tries.set(n, k);
        if (n === 2 && k < 3) throw new Error(`flaky ${k}`);
        return n;
      },
      { retry: { retries: 3, minDelay: 1 } },
    ),
  );
  t.same(out, [1, 2, 3]);
  t.same(
    [...tries],
    [
      [1, 1],
      [2, 3],
      [3, 1],
    ],
  );
});

t.test('parallel() fails with the last error once the retries are used up', async (t) => {
  let tries = 0;
  const errors: Error[] = [];
  const err = await rejection(
    toArray(
      [1],
      parallel(
        async () => {
          const e = new Error(`try ${++tries}`);
          errors.push(e);
          throw e;
        },
        { retry: { retries: 2, minDelay: 1 } },
      ),
    ),
  );
  t.equal(tries, 3);
  t.equal(err, errors[2]);
});

t.test('parallel() waits longer before each retry', async (t) => {
  const at: number[] = [];
  await rejection(
    toArray(
      [1],
      parallel(
        async () => {
          at.push(performance.now());
          throw new Error('no');
        },
        { retry: { retries: 3, minDelay: 10, factor: 2, jitter: 0 } },
      ),
    ),
  );
  t.equal(at.length, 4);
  const gaps = at.slice(1).map((time, i) => time - at[i]!);
  // Lower bounds only (a timer never fires early, give or take a millisecond of rounding): 10, 20, 40 ms.
  t.ok(gaps[0]! >= 9, `first gap ${gaps[0]} ms`);
  t.ok(gaps[1]! >= 19, `second gap ${gaps[1]} ms`);
  t.ok(gaps[2]! >= 39, `third gap ${gaps[2]} ms`);
});

t.test('parallel() retries a call that timed out', async (t) => {
  let tries = 0;
  const out = await toArray(
    [1],
    parallel(
      async (n: number, { signal }) => {
        if (++tries === 1) await sleep(60_000, undefined, { signal });
        return n;
      },
      { timeout: 10, retry: { retries: 1, minDelay: 1 } },
    ),
  );
  t.same(out, [1]);
  t.equal(tries, 2);
});

t.test('parallel() does not retry when retryIf says no', async (t) => {
  let tries = 0;
  const fatal = new Error('fatal');
  const seen: [unknown, number][] = [];
  const err = await rejection(
    toArray(
      [1],
      parallel(
        async () => {
          tries++;
          throw fatal;
        },
        { retry: { retries: 5, minDelay: 1, retryIf: (e, attempt) => (seen.push([e, attempt]), false) } },
      ),
    ),
  );
  t.equal(err, fatal);
  t.equal(tries, 1);
  t.same(seen, [[fatal, 1]]);
});

t.test('parallel() fails with the very error retryIf throws', async (t) => {
  const broken = new Error('retryIf broke');
  t.equal(
    await rejection(
      toArray(
        [1],
        parallel(
          async () => {
            throw new Error('no');
          },
          {
            retry: {
              retries: 1,
              retryIf: () => {
                throw broken;
              },
            },
          },
        ),
      ),
    ),
    broken,
  );
});

t.test('parallel() clears its backoff timers when aborted', async (t) => {
  const check = leakCheck();
  const controller = new AbortController();
  check.track(controller.signal);
  let tries = 0;
  const failed = deferred();
  const run = pipeline(
    [1, 2],
    parallel(
      async () => {
        if (++tries === 2) failed.resolve();
        throw new Error('try again later');
      },
      { retry: { retries: 5, minDelay: 60_000 } },
    ),
    drain,
    { signal: controller.signal },
  );
  await failed.promise;
  controller.abort('stop');
  t.equal(await rejection(run), 'stop');
  t.equal(tries, 2);
  await check.verify();
});

t.test("parallel() onError 'skip' drops failed items and counts them", async (t) => {
  const p = parallel(
    async (n: number) => {
      if (n % 3 === 0) throw new Error(`bad ${n}`);
      return n;
    },
    { onError: 'skip', concurrency: 3 },
  );
  t.same(await toArray(range(10), p), [1, 2, 4, 5, 7, 8]);
  t.equal(p.skipped, 4);
  t.ok(p instanceof Parallel);
});

t.test("parallel() onError 'skip' counts an item only after its retries failed", async (t) => {
  let tries = 0;
  const p = parallel(
    async (n: number) => {
      if (n === 1) {
        tries++;
        throw new Error('always');
      }
      return n;
    },
    { onError: 'skip', retry: { retries: 2, minDelay: 1 } },
  );
  t.same(await toArray([0, 1, 2], p), [0, 2]);
  t.equal(p.skipped, 1);
  t.equal(tries, 3);
});

t.test('parallel() onError function replaces the result of a failed item', async (t) => {
  const seen: [unknown, number][] = [];
  const p = parallel(
    async (n: number) => {
      if (n === 2) throw new Error('two');
      return n;
    },
    {
      onError: (err, item) => {
        seen.push([(err as Error).message, item]);
        return -item;
      },
    },
  );
  t.same(await toArray([1, 2, 3], p), [1, -2, 3]);
  t.same(seen, [['two', 2]]);
  t.equal(p.skipped, 0);
});

t.test('parallel() onError function drops the item when it returns undefined', async (t) => {
  t.same(
    await toArray(
      [1, 2, 3],
      parallel(
        async (n: number) => {
          if (n === 2) throw new Error('two');
          return n;
        },
        { onError: () => undefined },
      ),
    ),
    [1, 3],
  );
});

t.test('parallel() fails with the very error the onError function throws', async (t) => {
  const broken = new Error('onError broke');
  t.equal(
    await rejection(
      toArray(
        [1],
        parallel(
          async () => {
            throw new Error('no');
          },
          {
            onError: () => {
              throw broken;
            },
          },
        ),
      ),
    ),
    broken,
  );
});

t.test('parallel() fails fast: the first error aborts every in-flight call and comes out of pipeline', async (t) => {
  const check = leakCheck();
  const boom = new Error('boom');
  const signals: AbortSignal[] = [];
  const all = deferred();
  const p = check.track(
    parallel(
      async (n: number, { signal }) => {
        signals.push(signal);
        if (signals.length === 4) all.resolve();
        if (n === 3) {
          await all.promise;
          throw boom;
        }
        return sleep(60_000, n, { signal });
      },
      { concurrency: 4 },
    ),
  );
  t.equal(
    await rejection(
      pipeline(
        range(10),
        p,
        map((n: number) => n),
        drain,
      ),
    ),
    boom,
  );
  t.equal(signals.length, 4, 'no call started after the failure');
  t.same(
    signals.map((s) => s.aborted),
    [true, true, true, true],
  );
  t.equal(signals[0]?.reason, boom);
  await check.verify();
});

t.test('parallel() aborts every in-flight call when the pipeline fails downstream', async (t) => {
  const check = leakCheck();
  const boom = new Error('downstream');
  const signals: AbortSignal[] = [];
  const run = pipeline(
    endless(),
    parallel(
      async (n: number, { signal }) => {
        signals.push(signal);
        await sleep(n < 2 ? 0 : 60_000, undefined, { signal });
        return n;
      },
      { concurrency: 3 },
    ),
    map((n: number) => {
      if (n === 1) throw boom;
      return n;
    }),
    drain,
  );
  t.equal(await rejection(run), boom);
  t.ok(signals.length >= 3);
  t.ok(
    signals.every((s) => s.aborted),
    'every call signal aborted',
  );
  await check.verify();
});

t.test('parallel() is destroyed with signal.reason when options.signal aborts', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const started = deferred();
  let seen: AbortSignal | undefined;
  const p = check.track(
    parallel(
      async (n: number, { signal }) => {
        seen = signal;
        started.resolve();
        return sleep(60_000, n, { signal });
      },
      { signal: controller.signal, timeout: 60_000 },
    ),
  );
  const run = pipeline([1], p, drain);
  await started.promise;
  const reason = new Error('stop');
  controller.abort(reason);
  t.equal(await rejection(run), reason);
  t.equal(seen?.aborted, true);
  t.equal(seen?.reason, reason);
  await check.verify();
});

t.test('parallel() refuses a concurrency that is not an integer >= 1', async (t) => {
  const zero = thrown(() => parallel(async (n: number) => n, { concurrency: 0 }));
  t.ok(zero instanceof RangeError);
  t.match((zero as Error).message, /options.concurrency must be an integer >= 1, got 0 \(number\)/);
  t.match((zero as Error).message, /^parallel\(\): /);
  const fraction = thrown(() => parallel(async (n: number) => n, { concurrency: 2.5 }));
  t.ok(fraction instanceof RangeError);
  t.match((fraction as Error).message, /options.concurrency must be an integer >= 1, got 2.5 \(number\)/);
  const text = thrown(() => parallel(async (n: number) => n, { concurrency: '4' as never }));
  t.ok(text instanceof TypeError);
  t.match((text as Error).message, /options.concurrency must be an integer >= 1, 'auto' or \{ min, max, initial \}, got "4" \(string\)/);
});

t.test('parallel() refuses an ordered that is not a boolean', async (t) => {
  const err = thrown(() => parallel(async (n: number) => n, { ordered: 'yes' as never }));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^parallel\(\): options.ordered must be a boolean, got "yes" \(string\)$/);
});

t.test('parallel() refuses a timeout that is not a number of milliseconds > 0 that setTimeout keeps', async (t) => {
  const zero = thrown(() => parallel(async (n: number) => n, { timeout: 0 }));
  t.ok(zero instanceof RangeError);
  t.match((zero as Error).message, /^parallel\(\): options.timeout must be a number of milliseconds > 0 and <= 2147483647, got 0 \(number\)$/);
  const infinite = thrown(() => parallel(async (n: number) => n, { timeout: Infinity }));
  t.ok(infinite instanceof RangeError);
  // setTimeout would fire such a timer after 1 ms.
  t.ok(thrown(() => parallel(async (n: number) => n, { timeout: 2 ** 31 })) instanceof RangeError);
});

t.test('parallel() refuses an onError that is not fail, skip or a function', async (t) => {
  const err = thrown(() => parallel(async (n: number) => n, { onError: 'ignore' as never }));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^parallel\(\): options.onError must be one of "fail", "skip", got "ignore" \(string\)$/);
});

t.test('parallel() refuses invalid retry options', async (t) => {
  const notObject = thrown(() => parallel(async (n: number) => n, { retry: 3 as never }));
  t.ok(notObject instanceof TypeError);
  t.match((notObject as Error).message, /^parallel\(\): options.retry must be an object, got 3 \(number\)$/);
  const retries = thrown(() => parallel(async (n: number) => n, { retry: { retries: -1 } }));
  t.ok(retries instanceof RangeError);
  t.match((retries as Error).message, /options.retry.retries must be an integer >= 0, got -1 \(number\)/);
  const jitter = thrown(() => parallel(async (n: number) => n, { retry: { jitter: 1.5 } }));
  t.ok(jitter instanceof RangeError);
  t.match((jitter as Error).message, /options.retry.jitter must be a number from 0 to 1, got 1.5 \(number\)/);
  const factor = thrown(() => parallel(async (n: number) => n, { retry: { factor: 0.5 } }));
  t.ok(factor instanceof RangeError);
  t.match((factor as Error).message, /options.retry.factor must be a finite number >= 1, got 0.5 \(number\)/);
  const maxDelay = thrown(() => parallel(async (n: number) => n, { retry: { minDelay: 100, maxDelay: 10 } }));
  t.ok(maxDelay instanceof RangeError);
  t.match((maxDelay as Error).message, /options.retry.maxDelay must be a finite number >= 100, got 10 \(number\)/);
  const retryIf = thrown(() => parallel(async (n: number) => n, { retry: { retryIf: true as never } }));
  t.ok(retryIf instanceof TypeError);
  t.match((retryIf as Error).message, /options.retry.retryIf must be a function, got true \(boolean\)/);
});

t.test('parallel() refuses a fn that is not a function', async (t) => {
  const err = thrown(() => parallel(undefined as never));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^parallel\(\): fn must be a function, got undefined \(undefined\)$/);
});

stageContract(
  'parallel()',
  (options, hooks) =>
    parallel(async (n: number) => {
      hooks.visit(n);
      return n;
    }, options),
  { expected: [0, 1, 2] },
);
