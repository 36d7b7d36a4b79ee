import t from 'tap';
import fc from 'fast-check';
import { PassThrough, Readable, Writable, type Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { distribute, map, pipeline, toArray } from '../lib/index.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { abortedWith, Lead, rejection, slowDrain } from './fixtures/helpers.js';
import { within } from './fixtures/settle.js';
import { stageContract } from './fixtures/contract.js';

const byValue = (a: number, b: number): number => a - b;
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** A worker that records what it receives and passes it on after `latency` ms (synchronously for 0). */
function worker(latency: number, received: number[] = [], highWaterMark = 4): Duplex {
  return map(
    (n: number) => {
      received.push(n);
      return latency === 0 ? n : sleep(latency, n);
    },
    { highWaterMark },
  );
}

/** An endless async generator, one item every `latency` ms. */
async function* endless(latency: number): AsyncGenerator<number> {
  for (let i = 0; ; i++) {
    await sleep(latency);
    yield i;
  }
}

t.test('distribute() gives each item to exactly one worker, none lost or duplicated (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.integer(), { maxLength: 60 }),
      fc.integer({ min: 1, max: 4 }),
      async (latencies, input, highWaterMark) => {
        const received = latencies.map((): number[] => []);
        const out = await toArray(
          input,
          distribute<number, number>(latencies.length, (i) => worker(latencies[i]!, received[i], highWaterMark), { highWaterMark }),
        );
        const expected = [...input].sort(byValue).join();
        const given = received.flat().sort(byValue).join();
        if (given !== expected) throw new Error(`the workers received ${given}, expected ${expected}`);
        if (out.sort(byValue).join() !== expected) throw new Error(`came out as ${out.join()}, expected ${expected}`);
      },
    ),
    { numRuns: 40 },
  );
});

t.test('distribute() merges the outputs of every worker', async (t) => {
  const out = await toArray(
    range(30),
    distribute(3, (i) => map((n: number) => ({ worker: i, n: n * 2 }))),
  );
  t.same(
    out.map(({ n }) => n).sort(byValue),
    range(30).map((n) => n * 2),
  );
  t.same([...new Set(out.map(({ worker }) => worker))].sort(byValue), [0, 1, 2], 'every worker contributed');
});

t.test('distribute() gives the least busy worker the work: a slow one receives fewer items', async (t) => {
  const received = [[], [], []] as number[][];
  const latencies = [15, 1, 1];
  await toArray(
    range(120),
    distribute(3, (i) => worker(latencies[i]!, received[i])),
  );
  const [slow, fast1, fast2] = received.map((r) => r.length) as [number, number, number];
  t.equal(slow + fast1 + fast2, 120);
  t.ok(slow < fast1 && slow < fast2, `slow worker got ${slow}, the fast ones ${fast1} and ${fast2}`);
});

t.test('distribute() stops reading its source while every worker is full', async (t) => {
  const n = 3;
  const highWaterMark = 2;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let produced = 0;
  function* source(): Generator<number> {
    for (let i = 0; i < 500; i++) {
      produced++;
      yield i;
    }
  }
  const stage = distribute(
    n,
    () =>
      map(
        async (x: number) => {
          await gate;
          return x;
        },
        { highWaterMark },
      ),
    { highWaterMark },
  );
  const out: number[] = [];
  const done = pipeline(source(), stage, async (items: AsyncIterable<unknown>) => {
    for await (const item of items) out.push(item as number);
  });
  await sleep(30);
  // Each worker's buffer plus the item it is working on, distribute's own buffer, and the item
  // being written.
  const bound = n * (highWaterMark + 1) + highWaterMark + 2;
  t.ok(produced <= bound, `read ${produced} items while every worker was blocked (bound ${bound})`);
  open();
  await done;
  t.same(out.sort(byValue), range(500));
});

t.test('distribute() keeps memory bounded behind a slow consumer', async (t) => {
  const n = 3;
  const highWaterMark = 2;
  const lead = new Lead();
  await pipeline(
    lead.source(300),
    distribute(n, () => map((x: number) => x, { highWaterMark }), { highWaterMark }),
    async (items: AsyncIterable<unknown>) => {
      for await (const _ of items) {
        lead.took();
        await sleep(0);
      }
    },
  );
  t.equal(lead.consumed, 300);
  // Per worker: both buffers and one item in hand; then the merge of their outputs (its buffer and
  // one item per worker), distribute's two buffers, and the item being written.
  const bound = n * (2 * highWaterMark + 1) + (highWaterMark + n) + 2 * highWaterMark + 1;
  t.ok(lead.most <= bound, `the source got at most ${bound} items ahead of the consumer, saw ${lead.most}`);
});

t.test('distribute() destroys every worker when one fails and pipeline rejects with that error', async (t) => {
  const boom = new Error('boom');
  const check = leakCheck();
  const stage = check.track(
    distribute(3, (i) =>
      check.track(
        map(async (x: number) => {
          await sleep(1);
          if (i === 1 && x >= 10) throw boom;
          return x;
        }),
        `worker ${i}`,
      ),
    ),
    'distribute',
  );
  const error = await pipeline(range(200), stage, async (items: AsyncIterable<unknown>) => {
    for await (const _ of items);
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal(error, boom, 'the very error object');
  await check.verify();
});

t.test('distribute() finishes only once every worker has finished', async (t) => {
  const log: string[] = [];
  const workers = [0, 5].map((ms) => map(async (n: number) => (ms === 0 ? n : sleep(ms, n))));
  for (const [i, w] of workers.entries()) w.on('finish', () => log.push(`worker ${i} finished`));
  const stage = distribute(2, (i) => workers[i]!).on('finish', () => log.push('distribute finished'));
  t.same((await toArray([1, 2, 3, 4], stage)).sort(byValue), [1, 2, 3, 4]);
  t.equal(log[log.length - 1], 'distribute finished');
  t.equal(log.length, 3);
});

t.test("distribute() as the last stage fails the pipeline with the error of a worker's last item", async (t) => {
  const boom = new Error('boom');
  const stage = distribute(1, () =>
    map(async (n: number) => {
      await sleep(2);
      if (n === 3) throw boom;
      return n;
    }),
  );
  t.equal(await rejection(within(pipeline([1, 2, 3], stage), 'pipeline()')), boom);
});

t.test('distribute() rejects with the very falsy value a worker throws', async (t) => {
  for (const value of [undefined, null, 0, '', false]) {
    const err = await rejection(
      within(
        toArray(
          [1, 2, 3],
          distribute(2, () =>
            map(async (n: number) => {
              if (n === 2) throw value;
              return n;
            }),
          ),
        ),
        'toArray()',
      ),
    );
    t.ok(Object.is(err, value), `rejected with ${String(err)} for a thrown ${String(value)}`);
  }
});

t.test('distribute() destroyed destroys every worker', async (t) => {
  const check = leakCheck();
  const stage = check.track(
    distribute(3, (i) => check.track(worker(2), `worker ${i}`)),
    'distribute',
  );
  stage.resume();
  for (const i of range(20)) stage.write(i);
  await sleep(3);
  stage.destroy();
  await check.verify();
  t.ok(stage.destroyed);
});

t.test('distribute() cleans up every worker when the consumer breaks early', async (t) => {
  const check = leakCheck();
  const source = check.track(Readable.from(endless(0)), 'source');
  const stage = check.track(
    distribute(3, (i) => check.track(worker(1), `worker ${i}`)),
    'distribute',
  );
  source.pipe(stage);
  let n = 0;
  for await (const _ of stage) if (++n === 10) break;
  source.destroy();
  await check.verify();
  t.equal(n, 10);
});

t.test('distribute() aborted at a random moment rejects with the reason and leaves nothing behind (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 4 }),
      fc.nat({ max: 2 }),
      fc.option(fc.nat({ max: 15 }), { freq: 4 }),
      async (latencies, sourceLatency, abortAfter) => {
        const controller = new AbortController();
        const reason = new Error('aborted');
        const check = leakCheck({ signals: [controller.signal] });
        const source = check.track(Readable.from(endless(sourceLatency), { highWaterMark: 1 }));
        const stage = check.track(distribute(latencies.length, (i) => check.track(worker(latencies[i]!, [], 2)), { highWaterMark: 2 }));
        // null: abort before the pipeline has taken a single step.
        await abortedWith(controller, reason, abortAfter, (signal) => pipeline(source, stage, slowDrain, { signal }));
        await check.verify();
      },
    ),
    { numRuns: 30 },
  );
});

t.test('distribute() refuses a bad n, naming it', async (t) => {
  const factory = (): Duplex => new PassThrough({ objectMode: true });
  t.throws(() => distribute(0, factory), { name: 'RangeError', message: 'distribute(): n must be an integer >= 1, got 0 (number)' });
  t.throws(() => distribute(1.5, factory), { name: 'RangeError', message: 'distribute(): n must be an integer >= 1, got 1.5 (number)' });
  t.throws(() => distribute('2' as never, factory), { name: 'TypeError', message: 'distribute(): n must be an integer >= 1, got "2" (string)' });
});

t.test('distribute() refuses a factory that is not a function or does not return a Duplex', async (t) => {
  t.throws(() => distribute(2, 'x' as never), { name: 'TypeError', message: 'distribute(): factory must be a function, got "x" (string)' });
  const writable = (): Duplex => new Writable({ objectMode: true, write: (_x, _e, cb) => cb() }) as never;
  t.throws(() => distribute(2, writable), { name: 'TypeError', message: 'distribute(): factory(0) must return a Duplex, got Writable (object)' });
  t.throws(() => distribute(2, () => Readable.from([]) as never), {
    name: 'TypeError',
    message: /^distribute\(\): factory\(0\) must return a Duplex, got \w+ \(object\)$/,
  });
  t.throws(() => distribute(2, () => null as never), { name: 'TypeError', message: 'distribute(): factory(0) must return a Duplex, got null' });
});

t.test('distribute() destroys the workers it built when a later one is refused', async (t) => {
  const built: Duplex[] = [];
  const factory = (i: number): Duplex => {
    if (i === 2) return {} as never;
    const w = new PassThrough({ objectMode: true });
    built.push(w);
    return w;
  };
  t.throws(() => distribute(3, factory), { name: 'TypeError', message: 'distribute(): factory(2) must return a Duplex, got Object (object)' });
  t.same(
    built.map((w) => w.destroyed),
    [true, true],
  );
});

t.test('distribute() refuses bad options, naming them', async (t) => {
  const built: Duplex[] = [];
  const factory = (): Duplex => built[built.push(new PassThrough({ objectMode: true })) - 1]!;
  t.throws(() => distribute(2, factory, { highWaterMark: -1 }), {
    name: 'RangeError',
    message: 'distribute(): options.highWaterMark must be an integer >= 0, got -1 (number)',
  });
  t.throws(() => distribute(2, factory, [] as never), { name: 'TypeError', message: 'distribute(): options must be an object, got Array (object)' });
  t.ok(
    built.every((w) => w.destroyed),
    'no worker left open',
  );
});

stageContract(
  'distribute()',
  (options, hooks) =>
    distribute(
      2,
      () =>
        map((n: number) => {
          hooks.visit(n);
          return n;
        }),
      options,
    ),
  { expected: [0, 1, 2], unordered: true },
);
