import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { filter } from '../lib/filter.js';
import { pipeline } from '../lib/pipeline.js';
import { toArray } from '../lib/to-array.js';
import type { StageContext } from '../lib/internal/engine.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { counted, deferred, drain, endless, rejection, slowSink, sourceState, thrown, turns } from './fixtures/helpers.js';
import { stageContract } from './fixtures/contract.js';

t.test('filter() keeps the items for which a sync predicate is truthy', async (t) => {
  t.same(
    await toArray(
      [1, 2, 3, 4, 5],
      filter((n: number) => n % 2),
    ),
    [1, 3, 5],
  );
});

t.test('filter() awaits an async predicate and keeps the input order', async (t) => {
  t.same(
    await toArray(
      [3, 1, 2],
      filter(async (n: number) => {
        await sleep(n);
        return n !== 1;
      }),
    ),
    [3, 2],
  );
});

t.test('filter() passes items on unchanged (the same object)', async (t) => {
  const a = { id: 'a' };
  const [out] = await toArray(
    [a],
    filter(() => 'yes'),
  );
  t.equal(out, a);
});

t.test('filter() passes a signal and the 0-based index to the predicate', async (t) => {
  const seen: { index: number; aborted: boolean }[] = [];
  t.same(
    await toArray(
      ['a', 'b', 'c'],
      filter((_s: string, ctx: StageContext) => {
        seen.push({ index: ctx.index, aborted: ctx.signal.aborted });
        return ctx.index !== 1;
      }),
    ),
    ['a', 'c'],
  );
  t.same(seen, [
    { index: 0, aborted: false },
    { index: 1, aborted: false },
    { index: 2, aborted: false },
  ]);
});

t.test('filter() narrows with a type guard', async (t) => {
  const isString = (v: string | number): v is string => typeof v === 'string';
  const out: string[] = await toArray<string>([1, 'a', 2, 'b'], filter(isString));
  t.same(out, ['a', 'b']);
});

t.test('filter() destroys the stage with the very error an async predicate rejects with', async (t) => {
  const boom = new Error('boom');
  t.equal(
    await rejection(
      toArray(
        [1, 2, 3],
        filter(async (n: number) => {
          if (n === 3) throw boom;
          return true;
        }),
      ),
    ),
    boom,
  );
});

t.test('filter() aborts the predicate signal when the pipeline is aborted', async (t) => {
  const check = leakCheck();
  const controller = new AbortController();
  const reason = new Error('stop');
  let seen: AbortSignal | undefined;
  const started = deferred();
  const run = pipeline(
    endless(),
    filter(async (_n: number, { signal }) => {
      seen = signal;
      started.resolve();
      await sleep(60_000, undefined, { signal });
      return true;
    }),
    drain,
    { signal: controller.signal },
  );
  await started.promise;
  controller.abort(reason);
  t.equal(await rejection(run), reason);
  t.equal(seen?.aborted, true);
  await check.verify();
});

t.test('filter() keeps items in flight bounded between a fast producer and a slow consumer', async (t) => {
  const state = sourceState();
  let maxInFlight = 0;
  const sink = slowSink<number>({ onItem: () => (maxInFlight = Math.max(maxInFlight, state.produced - sink.items.length)) });
  await pipeline(
    counted(1000, state),
    filter(() => true),
    sink,
  );
  t.equal(sink.items.length, 1000);
  t.ok(maxInFlight <= 50, `at most ${maxInFlight} items in flight`);
});

t.test('filter() honours readableHighWaterMark and writableHighWaterMark', async (t) => {
  let calls = 0;
  const stage = filter(
    () => {
      calls++;
      return true;
    },
    { readableHighWaterMark: 2, writableHighWaterMark: 4 },
  );
  t.equal(stage.readableHighWaterMark, 2);
  t.equal(stage.writableHighWaterMark, 4);
  for (let i = 0; i < 20; i++) stage.write(i);
  await turns();
  t.ok(calls <= 3, `predicate called ${calls} times with nobody reading`);
  stage.destroy();
});

t.test('filter() refuses a predicate that is not a function', async (t) => {
  const err = thrown(() => filter(null as never));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^filter\(\): predicate must be a function, got null$/);
});

t.test('filter() refuses a highWaterMark that is not an integer >= 0', async (t) => {
  const err = thrown(() => filter(() => true, { highWaterMark: Infinity }));
  t.ok(err instanceof RangeError);
  t.match((err as Error).message, /^filter\(\): options.highWaterMark must be an integer >= 0, got Infinity \(number\)$/);
});

stageContract(
  'filter()',
  (options, hooks) =>
    filter((n: number) => {
      hooks.visit(n);
      return n !== 1;
    }, options),
  { expected: [0, 2] },
);
