// Per-stage counters and times (stats()), and pipeline()'s stats reports with the bottleneck.
import t from 'tap';
import fc from 'fast-check';
import { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { batch } from '../lib/batch.js';
import { chain } from '../lib/chain.js';
import { filter } from '../lib/filter.js';
import { map } from '../lib/map.js';
import { parallel } from '../lib/parallel.js';
import { pipeline } from '../lib/pipeline.js';
import { take } from '../lib/take.js';
import { tee } from '../lib/tee.js';
import { toArray } from '../lib/to-array.js';
import type { StageStats, StatsReport } from '../lib/internal/stats.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { rejection } from './fixtures/helpers.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const stats = (stage: unknown): StageStats => (stage as { stats(): StageStats }).stats();
const spin = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};
const sink = (): Writable => new Writable({ objectMode: true, write: (_c, _e, cb) => cb() });

t.test('stats() counts items in and out, filtered, dropped, errors and retries', async (t) => {
  const m = map((n: number) => (n % 3 === 0 ? undefined : n));
  await toArray(range(10), m);
  t.match(stats(m), { name: 'map', itemsIn: 10, itemsOut: 6, filtered: 4, dropped: 0, errors: 0, inFlight: 0 });
  const p = parallel(
    async (n: number) => {
      if (n === 2) throw new Error('no 2');
      return n;
    },
    { onError: 'skip', retry: { retries: 1, minDelay: 1 } },
  );
  await toArray(range(5), p);
  t.match(stats(p), { name: 'parallel(fn)', itemsIn: 5, itemsOut: 4, dropped: 1, errors: 1, retries: 1 });
  const named = filter(function even(n: number) {
    return n % 2 === 0;
  });
  await toArray(range(4), named);
  t.match(stats(named), { name: 'even', itemsIn: 4, itemsOut: 2, filtered: 2 });
  t.equal(stats(map((n: number) => n, { name: 'mine' })).name, 'mine');
  const b = batch<number>(3);
  await toArray(range(7), b);
  t.match(stats(b), { name: 'batch', itemsIn: 7, itemsOut: 3 });
});

t.test('stats() add up: in = out + filtered + dropped + in flight, for functions that give one item or none (property)', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 50 }), fc.integer({ min: 1, max: 4 }), async (input, concurrency) => {
      const stage = chain(
        [
          async (n: number) => {
            if (n % 7 === 0) throw new Error('seven');
            return n % 3 === 0 ? undefined : n;
          },
        ],
        { concurrency, onError: 'skip' },
      );
      const out = await toArray(input, stage);
      const s = stats(stage);
      t.equal(s.itemsOut, out.length);
      t.equal(s.itemsIn, s.itemsOut + s.filtered + s.dropped + s.inFlight);
      t.equal(s.itemsIn, input.length);
    }),
    { numRuns: 40 },
  );
});

t.test('stats() times add up to the time the stage ran, and a stage that did nothing is starved', async (t) => {
  const m = map((n: number) => n);
  const slow = new Writable({ objectMode: true, highWaterMark: 1, write: (_c, _e, cb) => setTimeout(cb, 2) });
  await pipeline(range(40), m, slow);
  const s = stats(m);
  t.ok(s.busyMs >= 0 && s.starvedMs >= 0 && s.blockedMs >= 0);
  t.ok(s.blockedMs > s.busyMs, `a fast stage before a slow sink is mostly blocked: ${JSON.stringify(s)}`);
});

t.test('pipeline() reports every stage in order, with the bottleneck: a stage that keeps the CPU busy', async (t) => {
  const check = leakCheck();
  const reports: StatsReport[] = [];
  await pipeline(
    Readable.from(range(400)),
    map((n: number) => n + 1, { name: 'cheap' }),
    map(function parse(n: number) {
      spin(1);
      return n;
    }),
    map((n: number) => n * 2, { name: 'format' }),
    sink(),
    { onStats: (report) => reports.push(report), statsInterval: 50 },
  );
  const last = reports[reports.length - 1]!;
  t.ok(last.done);
  t.ok(reports.slice(0, -1).every((r) => !r.done));
  t.same(
    last.stages.map((s) => s.name),
    ['cheap', 'parse', 'format'],
  );
  t.same(
    last.stages.map((s) => s.itemsIn),
    [400, 400, 400],
  );
  t.match(last.bottleneck, { index: 1, name: 'parse' });
  t.match(last.bottleneck?.reason, /^parse was busy \d+% of the time while format after it was starved \d+%/);
  await check.verify();
});

t.test('pipeline() names as the bottleneck a stage whose calls take long (async), and the parts of a chain of streams', async (t) => {
  let last: StatsReport | undefined;
  await pipeline(
    Readable.from(range(60)),
    chain([
      (n: number) => n,
      map(
        async (n: number) => {
          await sleep(5);
          return n;
        },
        { name: 'lookup' },
      ),
      map((n: number) => n, { name: 'after' }),
    ]),
    sink(),
    { onStats: (report) => (last = report) },
  );
  t.same(
    last?.stages.map((s) => s.name),
    ['chain(fn)', 'lookup', 'after'],
  );
  t.match(last?.bottleneck, { name: 'lookup' });
});

t.test('pipeline() names the source when every stage waits for input, and the sink when the last one waits for it', async (t) => {
  let fromSource: StatsReport | undefined;
  async function* trickle(): AsyncGenerator<number> {
    for (let i = 0; i < 10; i++) {
      await sleep(10);
      yield i;
    }
  }
  await pipeline(
    trickle(),
    map((n: number) => n),
    sink(),
    { onStats: (r) => (fromSource = r) },
  );
  t.match(fromSource?.bottleneck, { index: -1, name: 'source' });
  let toSink: StatsReport | undefined;
  const slowSink = new Writable({ objectMode: true, highWaterMark: 1, write: (_c, _e, cb) => setTimeout(cb, 3) });
  await pipeline(
    range(60),
    map((n: number) => n),
    slowSink,
    { onStats: (r) => (toSink = r) },
  );
  t.match(toSink?.bottleneck, { index: 1, name: 'sink' });
});

t.test('pipeline() fails with the error onStats throws, and refuses a bad onStats or statsInterval', async (t) => {
  const boom = new Error('stats');
  const err = await rejection(
    pipeline(
      range(5),
      map((n: number) => n),
      sink(),
      {
        onStats: () => {
          throw boom;
        },
      },
    ),
  );
  t.equal(err, boom);
  t.throws(() => pipeline(range(1), sink(), { onStats: 5 as never }), new TypeError('pipeline(): options.onStats must be a function, got 5 (number)'));
  t.throws(() => pipeline(range(1), sink(), { onStats: () => {}, statsInterval: 0 }), RangeError);
});

t.test('stats() of take() and tee() count their items', async (t) => {
  const first = take<number>(3);
  await toArray(range(10), first);
  t.match(stats(first), { name: 'take', itemsIn: 3, itemsOut: 3 });
  const tt = tee<number>([sink()], { passThrough: true });
  await toArray(range(4), tt);
  t.match(stats(tt), { name: 'tee', itemsIn: 4, itemsOut: 4 });
});
