import t from 'tap';
import fc from 'fast-check';
import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { merge, pipeline, toArray } from '../lib/index.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { abortedWith, Lead, rejection, slowDrain } from './fixtures/helpers.js';
import { within } from './fixtures/settle.js';
import { stageContract } from './fixtures/contract.js';

/** Resolves once `done()` holds, polling for up to a second (generators finish a tick or a timer later). */
async function eventually(done: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !done(); waited += 5) {
    if (waited > 1000) throw new Error(`never happened: ${what}`);
    await sleep(5);
  }
}

const byValue = (a: number, b: number): number => a - b;

/** An endless async generator that records when its `finally` runs. */
function endless(latency: number, state: { started: boolean; finalized: boolean }): AsyncGenerator<number> {
  return (async function* () {
    state.started = true;
    try {
      for (let i = 0; ; i++) {
        await sleep(latency);
        yield i;
      }
    } finally {
      state.finalized = true;
    }
  })();
}

t.test('merge() reads Readables, iterables and async iterables together', async (t) => {
  async function* later(): AsyncGenerator<number> {
    yield 6;
    await sleep(1);
    yield 7;
  }
  function* sync(): Generator<number> {
    yield 8;
  }
  const out = await toArray(merge<number>([Readable.from([1, 2]), [3, 4], new Set([5]), later(), sync(), new PassThrough({ objectMode: true }).end(9)]));
  t.same(out.sort(byValue), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

t.test('merge() yields a permutation of its inputs, whatever the latencies (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          kind: fc.constantFrom('array', 'generator', 'async', 'readable'),
          items: fc.array(fc.tuple(fc.integer(), fc.nat({ max: 2 })), { maxLength: 12 }),
        }),
        { maxLength: 5 },
      ),
      fc.integer({ min: 1, max: 4 }),
      async (specs, highWaterMark) => {
        const sources = specs.map(({ kind, items }) => {
          const values = items.map(([value]) => value);
          async function* delayed(): AsyncGenerator<number> {
            for (const [value, latency] of items) {
              await sleep(latency);
              yield value;
            }
          }
          if (kind === 'array') return values;
          if (kind === 'generator') return values[Symbol.iterator]();
          if (kind === 'async') return delayed();
          return Readable.from(delayed(), { highWaterMark: 1 });
        });
        const out = await toArray(merge<number>(sources, { highWaterMark }));
        const expected = specs.flatMap(({ items }) => items.map(([value]) => value));
        if (out.sort(byValue).join() !== expected.sort(byValue).join()) throw new Error(`got ${out.join()}, expected ${expected.join()}`);
      },
    ),
    { numRuns: 40 },
  );
});

t.test('merge() keeps the order of the items within each source (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(fc.nat({ max: 2 }), { maxLength: 10 }), { minLength: 1, maxLength: 4 }), async (latencies) => {
      const sources = latencies.map((list, s) =>
        (async function* () {
          for (const [i, latency] of list.entries()) {
            await sleep(latency);
            yield { s, i };
          }
        })(),
      );
      const out = await toArray(merge(sources));
      latencies.forEach((list, s) => {
        const seen = out.filter((item) => item.s === s).map((item) => item.i);
        if (seen.join() !== list.map((_, i) => i).join()) throw new Error(`source ${s} came out as ${seen.join()}`);
      });
    }),
    { numRuns: 30 },
  );
});

t.test('merge() ends only after every source has ended', async (t) => {
  const log: string[] = [];
  async function* slow(): AsyncGenerator<string> {
    try {
      await sleep(20);
      yield 'slow';
    } finally {
      log.push('slow ended');
    }
  }
  function* fast(): Generator<string> {
    try {
      yield 'fast';
    } finally {
      log.push('fast ended');
    }
  }
  const readable = Readable.from(['readable']).on('end', () => log.push('readable ended'));
  const merged = merge<string>([slow(), fast(), readable]).on('end', () => log.push('merged ended'));
  const out = await toArray(merged);
  t.same(out.sort(), ['fast', 'readable', 'slow']);
  t.equal(log.length, 4);
  t.equal(log[3], 'merged ended');
});

t.test('merge([]) ends at once', async (t) => {
  const merged = merge([]);
  const ended = once(merged, 'end');
  merged.resume();
  await ended;
  t.same(await toArray(merge([])), []);
});

for (const kind of ['async generator', 'Readable'] as const) {
  t.test(`merge() destroys every source when one fails (${kind}) and surfaces that very error`, async (t) => {
    const boom = new Error('boom');
    let failureScheduled = false;
    const failing =
      kind === 'Readable'
        ? new Readable({
            objectMode: true,
            read() {
              if (!failureScheduled) setTimeout(() => this.destroy(boom), 5);
              failureScheduled = true;
              this.push('x');
            },
          })
        : (async function* () {
            yield 'x';
            await sleep(5);
            throw boom;
          })();
    const generator = { started: false, finalized: false };
    const readable = { started: false, finalized: false };
    const syncState = { finalized: false };
    function* sync(): Generator<number> {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        syncState.finalized = true;
      }
    }
    const check = leakCheck();
    const sources = [
      check.track(Readable.from(endless(1, readable), { highWaterMark: 1 }), 'Readable.from'),
      check.track(new PassThrough({ objectMode: true }), 'PassThrough never ended'),
      endless(1, generator),
      sync(),
      failing,
    ];
    if (failing instanceof Readable) check.track(failing, 'failing');
    const merged = check.track(merge<unknown>(sources));
    // A slow consumer, so that the endless sync generator is parked by backpressure rather than
    // keeping the event loop busy (and the failing source's timer from ever firing).
    const error = await pipeline(merged, async (items: AsyncIterable<unknown>) => {
      for await (const _ of items) await sleep(1);
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.equal(error, boom, 'the very error object');
    await check.verify();
    await eventually(() => generator.finalized && readable.finalized && syncState.finalized, "every generator's finally");
  });
}

t.test("merge() with onError 'detach' drops the failing source, emits 'detach' and goes on", async (t) => {
  const boom = new Error('boom');
  async function* failing(): AsyncGenerator<string> {
    yield 'x';
    await sleep(1);
    throw boom;
  }
  async function* slow(): AsyncGenerator<string> {
    for (const s of ['a', 'b', 'c']) {
      await sleep(5);
      yield s;
    }
  }
  const merged = merge<string>([['1', '2'], failing(), Readable.from(slow())], { onError: 'detach' });
  const detached: [unknown, unknown][] = [];
  merged.on('detach', (error: unknown, index: unknown) => detached.push([error, index]));
  const out = await toArray(merged);
  t.same(out.sort(), ['1', '2', 'a', 'b', 'c', 'x']);
  t.equal(detached.length, 1);
  t.equal(detached[0]?.[0], boom);
  t.equal(detached[0]?.[1], 1);
});

t.test('merge() rejects with the very falsy value a source throws', async (t) => {
  for (const value of [undefined, null, 0, '', false]) {
    const failing = (async function* (): AsyncGenerator<number> {
      yield 1;
      throw value;
    })();
    const err = await rejection(within(toArray(merge([[10, 20], failing])), 'toArray()'));
    t.ok(Object.is(err, value), `rejected with ${String(err)} for a thrown ${String(value)}`);
  }
});

t.test('merge() reads no source faster than the consumer reads', async (t) => {
  const highWaterMark = 4;
  const n = 3;
  const lead = new Lead();
  const merged = merge(
    Array.from({ length: n }, () => lead.source(1000)),
    { highWaterMark },
  );
  for await (const _ of merged) {
    lead.took();
    await sleep(0);
    if (lead.consumed === 150) break;
  }
  // The buffer holds highWaterMark items; each reader loop may have one more on its way.
  t.ok(lead.most <= highWaterMark + n, `at most ${highWaterMark + n} items ahead of the consumer, saw ${lead.most}`);
  t.ok(lead.pulled < 150 + highWaterMark + n + 1, `pulled ${lead.pulled} for 150 consumed`);
});

t.test('merge() cleans up every source when the consumer breaks early', async (t) => {
  const check = leakCheck();
  const generator = { started: false, finalized: false };
  const readable = { started: false, finalized: false };
  let syncFinalized = false;
  function* sync(): Generator<number> {
    try {
      for (let i = 0; ; i++) yield i;
    } finally {
      syncFinalized = true;
    }
  }
  const passThrough = check.track(new PassThrough({ objectMode: true }), 'PassThrough never ended');
  const fromGenerator = check.track(Readable.from(endless(1, readable)), 'Readable.from');
  const merged = check.track(merge<number>([fromGenerator, passThrough, endless(1, generator), sync()]), 'merged');
  let n = 0;
  for await (const _ of merged) {
    await sleep(1);
    if (++n === 5) break;
  }
  await check.verify();
  await eventually(() => generator.finalized && readable.finalized && syncFinalized, "every generator's finally");
  t.equal(n, 5);
});

t.test('merge() destroyed before it is read destroys its Readables without an unhandled error', async (t) => {
  const check = leakCheck();
  const sources = [check.track(Readable.from([1, 2])), check.track(new PassThrough({ objectMode: true }))];
  const controller = new AbortController();
  const merged = check.track(merge(sources, { signal: controller.signal }));
  const reason = new Error('stop');
  controller.abort(reason);
  const [error] = await once(merged, 'error');
  t.equal(error, reason);
  await check.verify();
});

t.test("merge() with onError 'detach' emits no 'detach' for the sources it destroys itself", async (t) => {
  const merged = merge([Readable.from(endless(1, { started: false, finalized: false })), new PassThrough({ objectMode: true })], { onError: 'detach' });
  const detached: unknown[] = [];
  merged.on('detach', (error: unknown) => detached.push(error));
  for await (const _ of merged) break;
  await sleep(10);
  t.same(detached, []);
});

t.test('merge() aborted at a random moment rejects with the reason and leaves nothing behind (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ latency: fc.nat({ max: 3 }), readable: fc.boolean() }), { minLength: 1, maxLength: 4 }),
      fc.option(fc.nat({ max: 15 }), { freq: 4 }),
      async (specs, abortAfter) => {
        const controller = new AbortController();
        const reason = new Error('aborted');
        const check = leakCheck({ signals: [controller.signal] });
        const states = specs.map(() => ({ started: false, finalized: false }));
        const sources = specs.map(({ latency, readable }, i) => {
          const source = endless(latency, states[i]!);
          return readable ? check.track(Readable.from(source, { highWaterMark: 1 })) : source;
        });
        const merged = check.track(merge(sources, { highWaterMark: 2 }));
        // null: abort before the pipeline has taken a single step.
        await abortedWith(controller, reason, abortAfter, (signal) => pipeline(merged, slowDrain, { signal }));
        await check.verify();
        await eventually(() => states.every((s) => !s.started || s.finalized), "every started generator's finally");
      },
    ),
    { numRuns: 30 },
  );
});

t.test('merge() refuses what is not a list of sources, naming it', async (t) => {
  t.throws(() => merge('ab' as never), { name: 'TypeError', message: 'merge(): sources must be an array, got "ab" (string)' });
  t.throws(() => merge([[1], 2 as never]), { name: 'TypeError', message: /^merge\(\): sources\[1\] must be a Readable, an iterable or an async iterable/ });
  t.throws(() => merge([null as never]), { name: 'TypeError', message: /^merge\(\): sources\[0\] .*got null$/ });
});

t.test('merge() refuses bad options, naming them', async (t) => {
  t.throws(() => merge([], { onError: 'skip' as never }), {
    name: 'TypeError',
    message: 'merge(): options.onError must be one of "fail", "detach", got "skip" (string)',
  });
  t.throws(() => merge([], { highWaterMark: -1 }), {
    name: 'RangeError',
    message: 'merge(): options.highWaterMark must be an integer >= 0, got -1 (number)',
  });
  t.throws(() => merge([], 5 as never), { name: 'TypeError', message: 'merge(): options must be an object, got 5 (number)' });
});

stageContract('merge()', (options, hooks) => merge([hooks.source], options), {
  kind: 'source',
  highWaterMark: 'highWaterMark',
  userFunction: false,
  expected: [0, 1, 2],
});
