import t from 'tap';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { PassThrough } from 'node:stream';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import { chain, many } from '../lib/chain.js';
import { map } from '../lib/map.js';
import { parallel } from '../lib/parallel.js';
import { pipeline } from '../lib/pipeline.js';
import { take } from '../lib/take.js';
import { toArray } from '../lib/to-array.js';
import { codegen } from '../lib/internal/fuse.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { drain, endless } from './fixtures/helpers.js';

// A chain stage drawn at random, with the model of what it does to one item.
type Kind = 'add' | 'mul' | 'drop' | 'many' | 'gen' | 'asyncGen';
interface StageSpec {
  kind: Kind;
  k: number;
  async: boolean;
}
const model = ({ kind, k }: StageSpec, x: number): number[] => {
  switch (kind) {
    case 'add':
      return [x + k];
    case 'mul':
      return [x * k];
    case 'drop':
      return x % k === 0 ? [] : [x];
    case 'many':
      return [x, x + k];
    case 'gen':
      return Array.from({ length: k % 3 }, (_, i) => x + i);
    case 'asyncGen':
      return [x - k, x];
  }
};
const run = ({ kind, k, async }: StageSpec): ((x: number) => unknown) => {
  const wrap = <R>(fn: (x: number) => R) => (async ? async (x: number) => fn(x) : fn);
  switch (kind) {
    case 'add':
      return wrap((x) => x + k);
    case 'mul':
      return wrap((x) => x * k);
    case 'drop':
      return wrap((x) => (x % k === 0 ? undefined : x));
    case 'many':
      return wrap((x) => many([x, x + k]));
    case 'gen':
      return function* (x: number) {
        for (let i = 0; i < k % 3; i++) yield x + i;
      };
    case 'asyncGen':
      return async function* (x: number) {
        yield x - k;
        await tick();
        yield x;
      };
  }
};
const stageSpec = fc.record({
  kind: fc.constantFrom<Kind>('add', 'mul', 'drop', 'many', 'gen', 'asyncGen'),
  k: fc.integer({ min: 1, max: 5 }),
  async: fc.boolean(),
});
const passThrough = (): PassThrough => new PassThrough({ objectMode: true, highWaterMark: 2 });
type AnyChain = (stages: readonly unknown[], options?: { highWaterMark?: number }) => Duplex;

for (const generated of [true, false]) {
  t.test(`chain() over random functions equals composing them on the array (${generated ? 'generated path' : 'loop'})`, async (t) => {
    codegen.enabled = generated;
    t.teardown(() => {
      codegen.enabled = true;
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 30 }),
        fc.array(fc.tuple(stageSpec, fc.boolean()), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 4 }),
        async (input, specs, highWaterMark) => {
          // Some stages are followed by a Node stream, so fused and unfused runs are both covered.
          const stages = specs.flatMap(([spec, streamAfter]) => (streamAfter ? [run(spec), passThrough()] : [run(spec)]));
          const expected = specs.reduce((items, [spec]) => items.flatMap((x) => model(spec, x)), input);
          const out = await toArray(input, (chain as AnyChain)(stages, { highWaterMark }));
          assert.deepEqual(out, expected);
        },
      ),
      { numRuns: 100 },
    );
    t.pass('held for every run');
  });
}

t.test('pipeline() rejects with the exact error thrown at a random item of a random stage and leaves nothing behind', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 0, max: 59 }),
      async (length, failingStage, failingItem) => {
        const boom = new Error(`stage ${failingStage} item ${failingItem}`);
        const controller = new AbortController();
        const resources = process.getActiveResourcesInfo().length;
        const check = leakCheck({ signals: [controller.signal] });
        const fail =
          (stage: number) =>
          (n: number): number => {
            if (stage === failingStage && n === failingItem) throw boom;
            return n;
          };
        const stages = [
          check.track(map(fail(0))),
          check.track(chain([fail(1), passThrough(), async (n: number) => fail(2)(n)])),
          check.track(
            parallel(
              async (n: number, { signal }) => {
                await sleep(n % 3, undefined, { signal });
                return fail(3)(n);
              },
              { concurrency: 3, timeout: 60_000 },
            ),
          ),
          check.track(map(async (n: number) => fail(4)(n))),
        ] as const;
        const items = Array.from({ length }, (_, i) => i);
        const result = pipeline(items, ...stages, drain, { signal: controller.signal, timeout: 60_000 }).then(
          () => undefined,
          (err: unknown) => err,
        );
        const err = await result;
        assert.equal(err, failingItem < length ? boom : undefined);
        assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
        await check.verify();
        assert.ok(process.getActiveResourcesInfo().length <= resources, 'no active resource left');
      },
    ),
    { numRuns: 80 },
  );
  t.pass('held for every run');
});

const latencies = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 40 });

t.test('parallel() ordered with random latencies equals a sequential map', async (t) => {
  await fc.assert(
    fc.asyncProperty(latencies, fc.integer({ min: 1, max: 8 }), async (delays, concurrency) => {
      const out = await toArray(
        delays.map((d, i) => [i, d] as const),
        parallel(
          async ([i, d]: readonly [number, number]) => {
            await sleep(d);
            return i * 3;
          },
          { concurrency },
        ),
      );
      assert.deepEqual(
        out,
        delays.map((_, i) => i * 3),
      );
    }),
    { numRuns: 40 },
  );
  t.pass('held for every run');
});

t.test('parallel() unordered with random latencies yields the same multiset', async (t) => {
  await fc.assert(
    fc.asyncProperty(latencies, fc.integer({ min: 1, max: 8 }), async (delays, concurrency) => {
      const out = await toArray(
        delays.map((d, i) => [i, d] as const),
        parallel(
          async ([i, d]: readonly [number, number]) => {
            await sleep(d);
            return i;
          },
          { concurrency, ordered: false },
        ),
      );
      assert.deepEqual(
        [...out].sort((a, b) => a - b),
        delays.map((_, i) => i),
      );
    }),
    { numRuns: 40 },
  );
  t.pass('held for every run');
});

t.test('parallel() never has more calls in flight than concurrency', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      latencies,
      fc.integer({ min: 1, max: 8 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 4 }),
      async (delays, concurrency, ordered, highWaterMark) => {
        let inFlight = 0;
        let max = 0;
        await toArray(
          delays,
          parallel(
            async (d: number) => {
              max = Math.max(max, ++inFlight);
              await sleep(d);
              inFlight--;
              return d;
            },
            { concurrency, ordered, highWaterMark },
          ),
        );
        assert.ok(max <= concurrency, `${max} in flight with concurrency ${concurrency}`);
      },
    ),
    { numRuns: 40 },
  );
  t.pass('held for every run');
});

t.test('pipeline() rejects with the abort reason at a random moment and leaves nothing behind', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 25 }), fc.integer({ min: 1, max: 400 }), async (abortAfter, limit) => {
      const controller = new AbortController();
      const check = leakCheck({ signals: [controller.signal] });
      const reason = new Error(`abort after ${abortAfter} ms`);
      const stages = [
        check.track(map((n: number) => n + 1)),
        check.track(
          parallel(
            async (n: number, { signal }) => {
              await sleep(n % 4, undefined, { signal });
              return n;
            },
            { concurrency: 4 },
          ),
        ),
        check.track(chain([(n: number) => n * 2, passThrough(), async (n: number) => n])),
        check.track(take(limit)),
        check.track(map(async (n: number) => n)),
      ] as const;
      let settled = false;
      const result = pipeline(endless(), ...stages, drain, { signal: controller.signal })
        .then(
          () => undefined,
          (err: unknown) => err,
        )
        .finally(() => (settled = true));
      const timer = setTimeout(() => {
        if (!settled) controller.abort(reason);
      }, abortAfter);
      const err = await result;
      clearTimeout(timer);
      // Either take() ended it first, or the abort did and its reason came out unchanged.
      assert.equal(err, controller.signal.aborted ? reason : undefined);
      await check.verify();
    }),
    { numRuns: 60 },
  );
  t.pass('held for every run');
});
