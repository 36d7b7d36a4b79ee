// chain()'s concurrency, ordered and onError options, and the fusing of sluice's own map/filter/flatMap
// stages (chain.test.ts has the rest of chain()).
import t from 'tap';
import fc from 'fast-check';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import { chain, many } from '../lib/chain.js';
import { filter } from '../lib/filter.js';
import { flatMap } from '../lib/flat-map.js';
import { map } from '../lib/map.js';
import { pipeline } from '../lib/pipeline.js';
import { toArray } from '../lib/to-array.js';
import { Engine } from '../lib/internal/engine.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { counted, deferred, rejection, slowSink, sourceState, thrown, turns } from './fixtures/helpers.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

t.test('chain() fuses map(), filter() and flatMap() stages given without options into one stage', async (t) => {
  const c = chain([map((n: number) => n + 1), filter((n: number) => n % 2 === 0), flatMap((n: number) => [n, -n]), (n: number) => n * 10]);
  t.ok(c instanceof Engine, 'one engine, no inner streams');
  t.same(await toArray([1, 2, 3], c), [20, -20, 40, -40]);
});

t.test('chain() keeps a map() with options of its own as a stream of its own', async (t) => {
  const own = map((n: number) => n + 1, { highWaterMark: 2 });
  const c = chain([(n: number) => n * 2, own]);
  t.not(c, own);
  t.same(await toArray([1, 2], c), [3, 5]);
  t.ok(own.destroyed || own.writableFinished, 'the inner map ran as its own stream');
});

t.test('chain() with concurrency runs up to that many items at once', async (t) => {
  let running = 0;
  let most = 0;
  const c = chain(
    [
      async (n: number) => {
        most = Math.max(most, ++running);
        await sleep(2);
        running--;
        return n;
      },
    ],
    { concurrency: 4 },
  );
  t.same(await toArray(range(20), c), range(20));
  t.equal(most, 4);
});

t.test('chain() with concurrency keeps the input order, generators included', async (t) => {
  const c = chain(
    [
      async (n: number) => {
        await sleep((5 - n) % 3);
        return n;
      },
      function* (n: number) {
        yield n;
        yield n + 0.5;
      },
    ],
    { concurrency: 3 },
  );
  t.same(
    await toArray(range(6), c),
    range(6).flatMap((n) => [n, n + 0.5]),
  );
});

t.test('chain() with ordered: false passes results on as they finish', async (t) => {
  const slow = deferred();
  const c = chain(
    [
      async (n: number) => {
        if (n === 0) await slow.promise;
        return n;
      },
    ],
    { concurrency: 2, ordered: false },
  );
  const out = toArray([0, 1, 2, 3], c);
  await turns(10);
  slow.resolve();
  const items = await out;
  t.same([...items].sort(), [0, 1, 2, 3]);
  t.equal(items[items.length - 1], 0, 'the held-up item comes last');
});

t.test('chain() with concurrency holds at most concurrency results back while waiting for a slow head', async (t) => {
  const head = deferred();
  let started = 0;
  const c = chain(
    [
      async (n: number) => {
        started++;
        if (n === 0) await head.promise;
        return n;
      },
    ],
    { concurrency: 4 },
  );
  const out = toArray(range(30), c);
  await turns(10);
  t.equal(started, 4);
  head.resolve();
  t.same(await out, range(30));
});

t.test('chain() with concurrency pauses a generator while nobody reads', async (t) => {
  const state = sourceState();
  const c = chain([(_n: number) => counted(1e6, state), (n: number) => n], { concurrency: 2, highWaterMark: 4 });
  c.write(1);
  c.write(2);
  await turns(10);
  t.ok(state.produced <= 4 * 3, `produced ${state.produced} items with nobody reading`);
  c.destroy();
  await turns(2);
  t.ok(state.finished, 'destroying the chain closed the generator');
});

t.test('chain() with concurrency keeps items in flight bounded between a fast producer and a slow consumer', async (t) => {
  const state = sourceState();
  let most = 0;
  const sink = slowSink<number>({ onItem: () => (most = Math.max(most, state.produced - sink.items.length)) });
  await pipeline(counted(1000, state), chain([async (n: number) => n], { concurrency: 8 }), sink);
  t.equal(sink.items.length, 1000);
  t.ok(most <= 60, `at most ${most} items in flight`);
});

t.test("chain() onError: 'skip' drops the items whose function failed and counts them", async (t) => {
  const c = chain(
    [
      (n: number) => {
        if (n % 3 === 0) throw new Error(`no ${n}`);
        return n;
      },
      async (n: number) => {
        if (n === 4) throw new Error('no 4');
        return n;
      },
    ],
    { onError: 'skip' },
  );
  t.same(await toArray(range(8), c), [1, 2, 5, 7]);
  t.equal((c as unknown as { skipped: number }).skipped, 4);
});

t.test('chain() onError as a function passes on its return value instead', async (t) => {
  const seen: unknown[] = [];
  const c = chain(
    [
      (n: number) => {
        if (n === 1) throw new Error('one');
        return n;
      },
    ],
    {
      onError: (error, item) => {
        seen.push([(error as Error).message, item]);
        return -1;
      },
    },
  );
  t.same(await toArray([0, 1, 2], c), [0, -1, 2]);
  t.same(seen, [['one', 1]]);
});

t.test('chain() fails with the error an onError function throws', async (t) => {
  const again = new Error('again');
  const c = chain(
    [
      () => {
        throw new Error('first');
      },
    ],
    {
      onError: () => {
        throw again;
      },
    },
  );
  t.equal(await rejection(toArray([1], c)), again);
});

t.test('chain() with concurrency aborts every in-flight call when one fails, and leaves nothing behind', async (t) => {
  const check = leakCheck();
  const boom = new Error('boom');
  const signals: AbortSignal[] = [];
  const c = chain(
    [
      async (n: number, { signal }) => {
        signals.push(signal);
        if (n === 3) throw boom;
        await sleep(10_000, undefined, { signal });
        return n;
      },
    ],
    { concurrency: 4 },
  );
  t.equal(await rejection(toArray(range(10), c)), boom);
  t.ok(signals.length >= 4 && signals.every((s) => s.aborted));
  await check.verify();
});

t.test('chain() refuses invalid concurrency, ordered and onError', async (t) => {
  t.throws(() => chain([], { concurrency: 0 }), new RangeError('chain(): options.concurrency must be an integer >= 1, got 0 (number)'));
  t.throws(() => chain([], { ordered: 'yes' as never }), new TypeError('chain(): options.ordered must be a boolean, got "yes" (string)'));
  t.ok(thrown(() => chain([], { onError: 'ignore' as never })) instanceof TypeError);
});

t.test('chain() with concurrency equals the sequential chain (ordered) or a permutation of it (unordered)', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 40 }),
      fc.integer({ min: 1, max: 6 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 4 }),
      async (input, concurrency, ordered, highWaterMark) => {
        const fns = () =>
          [
            async (n: number) => {
              if (n % 4 === 0) await tick();
              return n % 5 === 0 ? undefined : n;
            },
            (n: number) => (n % 3 === 0 ? many([n, n + 100]) : n),
            function* (n: number) {
              yield n;
              if (n % 2 === 0) yield -n;
            },
          ] as const;
        const expected = await toArray(input, chain(fns()));
        const got = await toArray(input, chain(fns(), { concurrency, ordered, highWaterMark }));
        if (ordered) t.same(got, expected);
        else
          t.same(
            [...got].sort((a, b) => a - b),
            [...expected].sort((a, b) => a - b),
          );
      },
    ),
    { numRuns: 60 },
  );
});

t.test('chain() with concurrency drains a large input through a slow sink without error', async (t) => {
  const sink = slowSink<number>();
  await pipeline(range(300), chain([async (n: number) => n * 2, (n: number) => n + 1], { concurrency: 16, highWaterMark: 2 }), sink);
  t.same(
    sink.items,
    range(300).map((n) => n * 2 + 1),
  );
});

t.test('chain(), map() and parallel() refuse a misspelled option, naming the option meant', async (t) => {
  t.throws(() => chain([], { concurency: 2 } as never), new TypeError('chain(): options.concurency is not an option (did you mean "concurrency"?)'));
  t.throws(() => map((x: number) => x, { highwatermark: 2 } as never), /map\(\): options\.highwatermark is not an option \(did you mean "highWaterMark"\?\)/);
});
