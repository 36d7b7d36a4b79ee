import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { flatMap } from '../lib/flat-map.js';
import { pipeline } from '../lib/pipeline.js';
import { toArray } from '../lib/to-array.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { counted, drain, endless, producer, rejection, slowSink, sourceState, thrown, turns } from './fixtures/helpers.js';
import { stageContract } from './fixtures/contract.js';

t.test('flatMap() passes on every item of an array', async (t) => {
  t.same(
    await toArray(
      ['a b', 'c', ''],
      flatMap((line: string) => (line === '' ? [] : line.split(' '))),
    ),
    ['a', 'b', 'c'],
  );
});

t.test('flatMap() passes on every item of any iterable', async (t) => {
  t.same(
    await toArray(
      [1, 2],
      flatMap((n: number) => new Set([n, n * 10, n])),
    ),
    [1, 10, 2, 20],
  );
  t.same(
    await toArray(
      ['ab'],
      flatMap((s: string) => s),
    ),
    ['a', 'b'],
  );
});

t.test('flatMap() passes on every yield of a generator function', async (t) => {
  t.same(
    await toArray(
      [2, 3],
      flatMap(function* (n: number) {
        for (let i = 0; i < n; i++) yield n;
      }),
    ),
    [2, 2, 3, 3, 3],
  );
});

t.test('flatMap() passes on every item of an async iterable', async (t) => {
  t.same(
    await toArray(
      [1, 2],
      flatMap(async function* (n: number) {
        yield n;
        await sleep(1);
        yield -n;
      }),
    ),
    [1, -1, 2, -2],
  );
});

t.test('flatMap() awaits a promise of an array', async (t) => {
  t.same(
    await toArray(
      [1, 2],
      flatMap(async (n: number) => {
        await sleep(1);
        return [n, n];
      }),
    ),
    [1, 1, 2, 2],
  );
});

t.test('flatMap() passes nothing for null or undefined', async (t) => {
  t.same(
    await toArray(
      [1, 2, 3],
      flatMap((n: number) => (n === 1 ? null : n === 2 ? undefined : [n])),
    ),
    [3],
  );
  t.same(
    await toArray(
      [1, 2],
      flatMap(async (n: number) => (n === 1 ? null : [n])),
    ),
    [2],
  );
});

t.test('flatMap() passes on an array as one item when it is an element', async (t) => {
  t.same(
    await toArray(
      [1],
      flatMap((n: number) => [[n, n]]),
    ),
    [[1, 1]],
  );
});

t.test('flatMap() fails with a TypeError when the function returns a number', async (t) => {
  const err = await rejection(
    toArray(
      [1],
      flatMap(() => 5 as never),
    ),
  );
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^flatMap\(\): the function must return an iterable or async iterable, got \d+ \(number\)$/);
});

t.test('flatMap() fails with a TypeError when the function returns a plain object', async (t) => {
  const err = await rejection(
    toArray(
      [1],
      flatMap(() => ({}) as never),
    ),
  );
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /must return an iterable or async iterable, got Object \(object\)/);
});

t.test('flatMap() destroys the stage with the very error a generator throws mid-way', async (t) => {
  const boom = new Error('boom');
  let yielded = 0;
  const err = await rejection(
    toArray(
      [1],
      flatMap(function* () {
        yield ++yielded;
        yield ++yielded;
        throw boom;
      }),
    ),
  );
  t.equal(err, boom);
  t.equal(yielded, 2);
});

t.test('flatMap() destroys the stage with the very error an async generator throws', async (t) => {
  const boom = new Error('boom');
  t.equal(
    await rejection(
      toArray(
        [1],
        flatMap(async function* () {
          yield 1;
          await sleep(1);
          throw boom;
        }),
      ),
    ),
    boom,
  );
});

t.test('flatMap() pauses a generator yielding 1e6 items while nobody reads', async (t) => {
  const state = sourceState();
  const stage = flatMap(producer(1e6, state), { highWaterMark: 4 });
  stage.write(1);
  await turns(10);
  t.ok(state.produced <= 5, `produced ${state.produced} items with nobody reading`);
  stage.destroy();
  await turns();
  t.equal(state.finished, true, "the generator's finally ran on destroy");
});

t.test('flatMap() pauses an async generator yielding 1e6 items while nobody reads', async (t) => {
  const state = sourceState();
  const stage = flatMap(
    async function* () {
      try {
        for (let i = 0; i < 1e6; i++) {
          state.produced++;
          yield i;
        }
      } finally {
        state.finished = true;
      }
    },
    { highWaterMark: 4 },
  );
  stage.write(1);
  await turns(10);
  t.ok(state.produced <= 6, `produced ${state.produced} items with nobody reading`);
  stage.destroy();
  await turns();
  t.equal(state.finished, true, "the async generator's finally ran on destroy");
});

t.test('flatMap() closes an async generator parked on an await when destroyed', async (t) => {
  const check = leakCheck();
  let finished = false;
  const parked = flatMap(async function* (_n: number, { signal }) {
    try {
      yield 1;
      await sleep(60_000, undefined, { signal });
      yield 2;
    } finally {
      finished = true;
    }
  });
  parked.on('error', () => {});
  parked.write(1);
  parked.read();
  await turns();
  parked.destroy(new Error('stop'));
  await turns();
  t.equal(finished, true);
  await check.verify();
});

t.test('flatMap() keeps items in flight bounded when one item expands into many', async (t) => {
  const state = sourceState();
  let maxInFlight = 0;
  const sink = slowSink<number>({ onItem: () => (maxInFlight = Math.max(maxInFlight, state.produced - sink.items.length)) });
  await pipeline(counted(2), flatMap(producer(500, state)), sink);
  t.equal(sink.items.length, 1000);
  t.ok(maxInFlight <= 40, `at most ${maxInFlight} items in flight`);
});

t.test('flatMap() is destroyed with signal.reason when options.signal aborts', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  // An async source that yields to the event loop: a sync generator read by a for-await sink runs on
  // microtasks only, and no timer (nor this abort) could fire until it ends.
  const stage = check.track(flatMap(() => endless(), { signal: controller.signal }));
  const run = pipeline([1], stage, drain);
  setTimeout(() => controller.abort(new Error('stop')), 5);
  t.match(await rejection(run), { message: 'stop' });
  await check.verify();
});

t.test('flatMap() refuses a fn that is not a function', async (t) => {
  const err = thrown(() => flatMap([1, 2] as never));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^flatMap\(\): fn must be a function, got Array \(object\)$/);
});

stageContract(
  'flatMap()',
  (options, hooks) =>
    flatMap((n: number) => {
      hooks.visit(n);
      return [n, n];
    }, options),
  { expected: [0, 0, 1, 1, 2, 2] },
);
