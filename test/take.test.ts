import t from 'tap';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { chain } from '../lib/chain.js';
import { fromIterable } from '../lib/from-iterable.js';
import { map } from '../lib/map.js';
import { merge } from '../lib/merge.js';
import { parallel } from '../lib/parallel.js';
import { pipeline } from '../lib/pipeline.js';
import { take } from '../lib/take.js';
import { toArray } from '../lib/to-array.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { endless, rejection, slowSink, sourceState, thrown, turns } from './fixtures/helpers.js';
import { within } from './fixtures/settle.js';
import { stageContract } from './fixtures/contract.js';

t.test('take() passes on the first n items', async (t) => {
  t.same(await toArray([1, 2, 3, 4, 5], take(3)), [1, 2, 3]);
});

t.test('take() passes on every item of a shorter input', async (t) => {
  t.same(await toArray([1, 2], take(5)), [1, 2]);
  t.same(await toArray([1, 2], take(2)), [1, 2]);
});

t.test('take(0) passes nothing and ends at once', async (t) => {
  const state = sourceState();
  t.same(await toArray(endless(state), take(0)), []);
  t.equal(state.finished, true);
});

t.test('take() on an endless source ends the pipeline and stops the source', async (t) => {
  const check = leakCheck();
  const state = sourceState();
  const stages = [check.track(map((n: number) => n * 2)), check.track(take(5))] as const;
  t.same(await toArray(endless(state), ...stages), [0, 2, 4, 6, 8]);
  // The source is parked on an await when it is told to stop: its finally runs once that settles,
  // a turn of the event loop after the pipeline (as with stream/promises pipeline).
  await turns();
  t.equal(state.finished, true, "the source generator's finally ran");
  t.ok(state.produced < 100, `the source produced only ${state.produced} items`);
  await check.verify();
});

t.test('take() stops an endless synchronous generator', async (t) => {
  let finished = false;
  function* naturals(): Generator<number> {
    try {
      for (let i = 0; ; i++) yield i;
    } finally {
      finished = true;
    }
  }
  t.same(await toArray(naturals(), take(3)), [0, 1, 2]);
  t.equal(finished, true);
});

t.test('take() stops a fromIterable() source', async (t) => {
  const state = sourceState();
  const source = fromIterable(endless(state));
  t.same(await toArray(source, take(2)), [0, 1]);
  t.equal(state.finished, true);
  t.equal(source.destroyed, true);
});

t.test('take() lets a slow sink after it receive all n items', async (t) => {
  const check = leakCheck();
  const state = sourceState();
  const sink = check.track(slowSink<number>({ delay: 5 }));
  await pipeline(
    endless(state),
    take(6),
    map(async (n: number) => {
      await sleep(2);
      return n;
    }),
    sink,
  );
  t.same(sink.items, [0, 1, 2, 3, 4, 5]);
  t.equal(state.finished, true);
  await check.verify();
});

t.test('take() lets a parallel stage after it finish its calls', async (t) => {
  const state = sourceState();
  const out = await toArray(
    endless(state),
    take(4),
    parallel(
      async (n: number) => {
        await sleep(5);
        return n;
      },
      { concurrency: 2 },
    ),
  );
  t.same(out, [0, 1, 2, 3]);
  t.equal(state.finished, true);
});

t.test('take() after a parallel stage ends it and aborts its in-flight calls', async (t) => {
  const check = leakCheck();
  const state = sourceState();
  const signals: AbortSignal[] = [];
  const pool = check.track(
    parallel(
      async (n: number, { signal }) => {
        signals.push(signal);
        await sleep(n < 3 ? 1 : 60_000, undefined, { signal });
        return n;
      },
      { concurrency: 4 },
    ),
  );
  t.same(await toArray(endless(state), pool, take(3)), [0, 1, 2]);
  await turns();
  t.equal(state.finished, true);
  t.ok(
    signals.every((signal) => signal.aborted),
    'every call signal aborted',
  );
  await check.verify();
});

t.test('take() inside a chain ends the chain and stops the source', async (t) => {
  const check = leakCheck();
  const state = sourceState();
  const c = check.track(chain([(n: number) => n * 2, take<number>(3), (n: number) => n + 1]));
  t.same(await toArray(endless(state), c), [1, 3, 5]);
  t.equal(state.finished, true);
  await check.verify();
});

t.test('take() closing a chain ends the chain and stops the source', async (t) => {
  const state = sourceState();
  const c = chain([(n: number) => n * 2, new PassThrough({ objectMode: true }), take(2)]);
  t.same(
    await toArray(
      endless(state),
      c,
      map((n: number) => n),
    ),
    [0, 2],
  );
  t.equal(state.finished, true);
});

t.test('take() twice in a pipeline ends at the smaller count', async (t) => {
  const state = sourceState();
  t.same(
    await toArray(
      endless(state),
      take(10),
      map((n: number) => n),
      take(3),
    ),
    [0, 1, 2],
  );
  t.equal(state.finished, true);
});

t.test('take() still fails the pipeline with an error from before it', async (t) => {
  const boom = new Error('boom');
  t.equal(
    await rejection(
      toArray(
        endless(),
        map((n: number) => {
          if (n === 2) throw boom;
          return n;
        }),
        take(5),
      ),
    ),
    boom,
  );
});

t.test('take() still fails the pipeline with an error from after it', async (t) => {
  const boom = new Error('boom');
  t.equal(
    await rejection(
      toArray(
        endless(),
        take(5),
        map((n: number) => {
          if (n === 2) throw boom;
          return n;
        }),
      ),
    ),
    boom,
  );
});

t.test('take() as the last stage ends the pipeline', async (t) => {
  const check = leakCheck();
  await within(pipeline([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], check.track(take(3))), 'pipeline()');
  let finished = false;
  await within(
    pipeline(
      function* () {
        try {
          for (let i = 0; ; i++) yield i;
        } finally {
          finished = true;
        }
      },
      check.track(take(3)),
    ),
    'pipeline()',
  );
  t.equal(finished, true);
  await within(pipeline([1, 2], check.track(take(0))), 'pipeline()');
  await check.verify();
});

t.test('take() as the last stage after a map() ends the pipeline and stops the source', async (t) => {
  const check = leakCheck();
  const state = sourceState();
  const stages = [check.track(map((n: number) => n * 2)), check.track(take(3))] as const;
  await within(pipeline(endless(state), ...stages), 'pipeline()');
  await turns();
  t.equal(state.finished, true);
  await check.verify();
});

t.test('take() ending early does not fail the pipeline for an earlier take() it tears down before that one ends', async (t) => {
  // merge() ends a turn later than the take(0) does: the take(1) between them is torn down unfinished.
  t.same(await within(toArray(merge([[]]), take(1), take(0)), 'toArray()'), []);
  t.same(
    await within(
      toArray(
        merge([[1, 2]]),
        take(5),
        map((n: number) => n),
        take(0),
      ),
      'toArray()',
    ),
    [],
  );
});

t.test('take() refuses an n that is not an integer >= 0', async (t) => {
  const negative = thrown(() => take(-1));
  t.ok(negative instanceof RangeError);
  t.match((negative as Error).message, /^take\(\): n must be an integer >= 0, got -1 \(number\)$/);
  const fraction = thrown(() => take(1.5));
  t.ok(fraction instanceof RangeError);
  const text = thrown(() => take('3' as never));
  t.ok(text instanceof TypeError);
  t.match((text as Error).message, /^take\(\): n must be an integer >= 0, got "3" \(string\)$/);
});

// More than an endless source gives before the abort: ending early has tests of its own above.
stageContract('take()', (options) => take<number>(1e9, options), { userFunction: false, expected: [0, 1, 2] });
