import t from 'tap';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { many } from '../lib/chain.js';
import { map } from '../lib/map.js';
import { pipeline } from '../lib/pipeline.js';
import { toArray } from '../lib/to-array.js';
import type { StageContext } from '../lib/internal/engine.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { stageContract } from './fixtures/contract.js';
import { counted, deferred, producer, rejection, slowSink, sourceState, thrown, turns } from './fixtures/helpers.js';

t.test('map() calls a sync function on each item', async (t) => {
  t.same(
    await toArray(
      [1, 2, 3],
      map((n: number) => n * 2),
    ),
    [2, 4, 6],
  );
});

t.test('map() awaits an async function and keeps the input order', async (t) => {
  const out = await toArray(
    [30, 1, 10],
    map(async (ms: number) => {
      await sleep(ms);
      return ms;
    }),
  );
  t.same(out, [30, 1, 10]);
});

t.test('map() passes a signal and the 0-based index to the function', async (t) => {
  const seen: { index: number; signal: AbortSignal; aborted: boolean }[] = [];
  await toArray(
    ['a', 'b', 'c'],
    map((s: string, ctx: StageContext) => {
      seen.push({ index: ctx.index, signal: ctx.signal, aborted: ctx.signal.aborted });
      return s;
    }),
  );
  t.same(
    seen.map((ctx) => ctx.index),
    [0, 1, 2],
  );
  t.ok(seen.every((ctx) => ctx.signal instanceof AbortSignal && !ctx.aborted));
});

t.test('map() drops an item when the function returns undefined', async (t) => {
  t.same(
    await toArray(
      [1, 2, 3, 4],
      map((n: number) => (n % 2 === 0 ? undefined : n)),
    ),
    [1, 3],
  );
});

t.test('map() drops an item when an async function resolves to undefined', async (t) => {
  t.same(
    await toArray(
      [1, 2, 3, 4],
      map(async (n: number) => (n % 2 === 0 ? undefined : n)),
    ),
    [1, 3],
  );
});

t.test('map() drops an item when the function returns null, without ending the stream', async (t) => {
  t.same(
    await toArray(
      [1, 2, 3],
      map((n: number) => (n === 2 ? null : n)),
    ),
    [1, 3],
  );
});

t.test('map() passes an array result on as one item', async (t) => {
  t.same(
    await toArray(
      [1, 2],
      map((n: number) => [n, n]),
    ),
    [
      [1, 1],
      [2, 2],
    ],
  );
});

t.test('map() passes on each value of many()', async (t) => {
  t.same(
    await toArray(
      [1, 2],
      map((n: number) => many([n, -n])),
    ),
    [1, -1, 2, -2],
  );
});

t.test('map() passes on each value of many() from an async function', async (t) => {
  t.same(
    await toArray(
      [1, 2],
      map(async (n: number) => many([n, -n])),
    ),
    [1, -1, 2, -2],
  );
});

t.test('map() passes on each yield of a generator function', async (t) => {
  t.same(
    await toArray(
      [2, 3],
      map(function* (n: number) {
        for (let i = 0; i < n; i++) yield `${n}.${i}`;
      }),
    ),
    ['2.0', '2.1', '3.0', '3.1', '3.2'],
  );
});

t.test('map() passes on each yield of an async generator function', async (t) => {
  t.same(
    await toArray(
      [2, 1],
      map(async function* (n: number) {
        for (let i = 0; i < n; i++) {
          await sleep(1);
          yield n * 10 + i;
        }
      }),
    ),
    [20, 21, 10],
  );
});

t.test('map() pauses a generator yielding 1e6 items while nobody reads', async (t) => {
  const state = sourceState();
  const stage = map(producer(1e6, state), { highWaterMark: 8 });
  stage.write(1);
  await turns(10);
  t.ok(state.produced <= 8 + 1, `produced ${state.produced} items with nobody reading`);
  for (let i = 0; i < 4; i++) stage.read();
  await turns(10);
  t.ok(state.produced <= 8 + 4 + 1, `produced ${state.produced} items after 4 reads`);
  stage.destroy();
  await turns();
  t.equal(state.finished, true, "the generator's finally ran on destroy");
});

t.test('map() destroys the stage with the very error an async function rejects with', async (t) => {
  const boom = new Error('boom');
  t.equal(
    await rejection(
      toArray(
        [1, 2, 3],
        map(async (n: number) => {
          await sleep(1);
          if (n === 2) throw boom;
          return n;
        }),
      ),
    ),
    boom,
  );
});

t.test('map() destroys the stage with the very error a generator throws', async (t) => {
  const boom = new Error('boom');
  t.equal(
    await rejection(
      toArray(
        [1],
        map(function* () {
          yield 1;
          throw boom;
        }),
      ),
    ),
    boom,
  );
});

t.test('map() aborts the signal of an in-flight call when the stage is destroyed', async (t) => {
  const check = leakCheck();
  let signal: AbortSignal | undefined;
  const started = deferred();
  const stage = map(async (n: number, ctx) => {
    signal = ctx.signal;
    started.resolve();
    return sleep(60_000, n, { signal: ctx.signal });
  });
  stage.on('error', () => {});
  stage.write(1);
  await started.promise;
  const reason = new Error('torn down');
  stage.destroy(reason);
  t.equal(signal?.aborted, true);
  t.equal(signal?.reason, reason);
  await check.verify();
});

t.test('map() keeps items in flight bounded between a fast producer and a slow consumer', async (t) => {
  const state = sourceState();
  let maxInFlight = 0;
  const sink = slowSink<number>({
    onItem: () => {
      maxInFlight = Math.max(maxInFlight, state.produced - sink.items.length);
    },
  });
  await pipeline(
    counted(2000, state),
    map((n: number) => n + 1),
    map(async (n: number) => n),
    sink,
  );
  t.equal(sink.items.length, 2000);
  // Two stages of 16 + 16 items, the sink's 1 and a few in hand: nowhere near the 2000 produced.
  t.ok(maxInFlight <= 80, `at most ${maxInFlight} items in flight`);
});

t.test('map() honours readableHighWaterMark and writableHighWaterMark', async (t) => {
  let calls = 0;
  const stage = map(
    (n: number) => {
      calls++;
      return n;
    },
    { readableHighWaterMark: 3, writableHighWaterMark: 5 },
  );
  t.equal(stage.readableHighWaterMark, 3);
  t.equal(stage.writableHighWaterMark, 5);
  let accepted = 0;
  while (stage.write(accepted)) accepted++;
  for (let i = 0; i < 20; i++) stage.write(i);
  await turns();
  t.ok(accepted <= 3 + 5 + 1, `write() returned false after ${accepted} items`);
  t.equal(stage.readableLength, 3);
  t.ok(calls <= 3 + 1, `fn called ${calls} times with nobody reading`);
  stage.destroy();
});

t.test('map() defaults to a highWaterMark of 16 items on both sides', async (t) => {
  const stage = map((n: number) => n);
  t.equal(stage.readableHighWaterMark, 16);
  t.equal(stage.writableHighWaterMark, 16);
  t.equal(stage.readableObjectMode, true);
  t.equal(stage.writableObjectMode, true);
  stage.destroy();
});

t.test('map() closes a running generator when the pipeline fails downstream', async (t) => {
  const check = leakCheck();
  const state = sourceState();
  const boom = new Error('sink failed');
  const sink = new PassThrough({ objectMode: true });
  const err = await rejection(
    pipeline([1], map(producer(1e6, state)), sink, async (source) => {
      for await (const _ of source) throw boom;
    }),
  );
  t.equal(err, boom);
  t.equal(state.finished, true);
  t.ok(state.produced < 1e6);
  await check.verify();
});

t.test('map() refuses a fn that is not a function', async (t) => {
  const err = thrown(() => map(5 as never));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^map\(\): fn must be a function, got 5 \(number\)$/);
});

t.test('map() refuses options that are not an object', async (t) => {
  const err = thrown(() => map((n: number) => n, 'fast' as never));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^map\(\): options must be an object, got "fast" \(string\)$/);
});

t.test('map() refuses a highWaterMark that is not an integer >= 0', async (t) => {
  const negative = thrown(() => map((n: number) => n, { highWaterMark: -1 }));
  t.ok(negative instanceof RangeError);
  t.match((negative as Error).message, /^map\(\): options.highWaterMark must be an integer >= 0, got -1 \(number\)$/);
  const fraction = thrown(() => map((n: number) => n, { readableHighWaterMark: 1.5 }));
  t.ok(fraction instanceof RangeError);
  t.match((fraction as Error).message, /options.readableHighWaterMark must be an integer >= 0, got 1.5 \(number\)/);
  const text = thrown(() => map((n: number) => n, { writableHighWaterMark: '4' as never }));
  t.ok(text instanceof TypeError);
  t.match((text as Error).message, /options.writableHighWaterMark must be an integer >= 0, got "4" \(string\)/);
});

t.test('map() refuses a signal that is not an AbortSignal', async (t) => {
  const err = thrown(() => map((n: number) => n, { signal: {} as never }));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^map\(\): options.signal must be an AbortSignal, got Object \(object\)$/);
});

stageContract(
  'map()',
  (options, hooks) =>
    map((n: number) => {
      hooks.visit(n);
      return n * 2;
    }, options),
  { expected: [0, 2, 4] },
);
