import t from 'tap';
import fc from 'fast-check';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { rateLimit } from '../lib/rate-limit.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { stageContract } from './fixtures/contract.js';

/** Runs `items` through `stage` and records when each one reached the sink. */
async function timed<T>(source: Iterable<T> | AsyncIterable<T>, stage: ReturnType<typeof rateLimit<T>>): Promise<{ items: T[]; times: number[] }> {
  const items: T[] = [];
  const times: number[] = [];
  await pipeline(
    Readable.from(source),
    stage,
    new Writable({
      objectMode: true,
      write(item: T, _enc, callback) {
        times.push(performance.now());
        items.push(item);
        callback();
      },
    }),
  );
  return { items, times };
}

t.test('rateLimit() passes every item unchanged and in order', async (t) => {
  const input = Array.from({ length: 50 }, (_, i) => ({ i }));
  const { items } = await timed(input, rateLimit({ rate: 1000, per: 10, burst: 50 }));
  t.same(items, input);
  t.equal(items[7], input[7]);
});

t.test('rateLimit() lets no more than rate + burst items through in any window of per ms (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        rate: fc.integer({ min: 1, max: 8 }),
        per: fc.integer({ min: 30, max: 60 }),
        burst: fc.integer({ min: 1, max: 3 }),
        pauses: fc.array(fc.option(fc.integer({ min: 1, max: 40 }), { freq: 3 }), { minLength: 1, maxLength: 12 }),
      }),
      async ({ rate, per, burst, pauses }) => {
        async function* source(): AsyncGenerator<number> {
          for (const [i, pause] of pauses.entries()) {
            if (pause !== null) await sleep(pause);
            yield i;
          }
        }
        const { items, times } = await timed(source(), rateLimit<number>({ rate, per, burst }));
        if (items.join() !== pauses.map((_, i) => i).join()) throw new Error(`items lost or reordered: ${items.join()}`);
        // The sink may see an item slightly later than the stage let it go; never earlier. Allow 5 ms.
        const slack = 5;
        const most = rate + burst;
        for (let i = 0; i + most < times.length; i++) {
          const span = times[i + most]! - times[i]!;
          if (span <= per - slack) throw new Error(`${most + 1} items within ${span.toFixed(1)} ms (rate ${rate}, per ${per}, burst ${burst})`);
        }
        // The token bucket's law, tighter: beyond the first `burst`, each item needs a token of its own.
        const msPerToken = per / rate;
        for (let i = 0; i < times.length; i++) {
          for (let k = burst; i + k < times.length; k++) {
            const span = times[i + k]! - times[i]!;
            if (span < (k + 1 - burst) * msPerToken - slack) {
              throw new Error(`${k + 1} items within ${span.toFixed(1)} ms (rate ${rate}, per ${per}, burst ${burst})`);
            }
          }
        }
      },
    ),
    { numRuns: 8 },
  );
});

t.test('rateLimit() lets the first burst items through at once, then holds the next', async (t) => {
  const limiter = rateLimit<number>({ rate: 1, per: 60_000, burst: 3 });
  const out: number[] = [];
  limiter.on('data', (n: number) => out.push(n));
  for (const n of [1, 2, 3, 4]) limiter.write(n);
  await sleep(30);
  t.same(out, [1, 2, 3]);
  limiter.destroy();
  await once(limiter, 'close');
});

t.test('rateLimit() runs no timer while idle', async () => {
  const limiter = rateLimit<number>({ rate: 1, per: 60_000, burst: 2 });
  limiter.resume();
  const check = leakCheck({ timeout: 0 });
  limiter.write(1);
  limiter.write(2);
  await check.verify();
  limiter.destroy();
});

t.test('rateLimit() leaves nothing behind after the end', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const limiter = check.track(rateLimit<number>({ rate: 100, per: 100, burst: 2, signal: controller.signal }));
  const { items } = await timed([1, 2, 3, 4, 5], limiter);
  t.same(items, [1, 2, 3, 4, 5]);
  await check.verify();
});

t.test('rateLimit() clears its timer and drops the waiting item when destroyed', async (t) => {
  const check = leakCheck();
  const limiter = check.track(rateLimit<number>({ rate: 1, per: 60_000 }));
  limiter.resume();
  let calledBack = 0;
  limiter.write(1, () => calledBack++);
  limiter.write(2, () => calledBack++); // waits a minute for a token
  await sleep(10);
  t.equal(calledBack, 1);
  limiter.destroy();
  await check.verify();
  t.equal(calledBack, 1);
});

t.test('rateLimit() is destroyed with the signal reason unchanged on abort', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const limiter = check.track(rateLimit<number>({ rate: 1, per: 60_000, signal: controller.signal }));
  const reason = new Error('stop');
  setTimeout(() => controller.abort(reason), 10);
  t.equal(
    await timed([1, 2, 3], limiter).then(
      () => undefined,
      (e: unknown) => e,
    ),
    reason,
  );
  await check.verify();
});

t.test('rateLimit() applies backpressure while an item waits', async (t) => {
  const limiter = rateLimit<number>({ rate: 1, per: 60_000, highWaterMark: 2 });
  limiter.resume();
  t.equal(limiter.write(1), true); // passes
  t.equal(limiter.write(2), true); // waits for a token
  t.equal(limiter.write(3), false); // buffered behind it: the writable side is full
  limiter.destroy();
  await once(limiter, 'close');
});

t.test("rateLimit() waits for a token due beyond setTimeout's maximum without overflowing", async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w.name);
  };
  process.on('warning', onWarning);
  const limiter = rateLimit<number>({ rate: 1, per: 1e12 });
  limiter.resume();
  let calledBack = 0;
  limiter.write(1, () => calledBack++);
  limiter.write(2, () => calledBack++);
  await sleep(30);
  process.off('warning', onWarning);
  t.same(warnings, []);
  t.equal(calledBack, 1);
  limiter.destroy();
});

t.test('rateLimit() validates its options', async (t) => {
  t.throws(() => rateLimit({ rate: 0 }), new RangeError('rateLimit(): options.rate must be a finite number > 0, got 0 (number)'));
  t.throws(() => rateLimit({ rate: Infinity }), RangeError);
  t.throws(() => rateLimit(undefined as never), new TypeError('rateLimit(): options.rate must be a finite number > 0, got undefined (undefined)'));
  t.throws(() => rateLimit({} as never), TypeError);
  t.throws(() => rateLimit({ rate: 1, per: 0 }), new RangeError('rateLimit(): options.per must be a finite number > 0, got 0 (number)'));
  t.throws(() => rateLimit({ rate: 1, burst: 0 }), new RangeError('rateLimit(): options.burst must be an integer >= 1, got 0 (number)'));
  t.throws(() => rateLimit({ rate: 1, burst: 1.5 }), RangeError);
  t.throws(() => rateLimit({ rate: 1, highWaterMark: -1 }), RangeError);
  t.throws(() => rateLimit({ rate: 1, signal: 'x' as never }), TypeError);
});

stageContract('rateLimit()', (options) => rateLimit<number>({ ...options, rate: 1e6 }), { userFunction: false, expected: [0, 1, 2] });
