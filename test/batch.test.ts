import t from 'tap';
import fc from 'fast-check';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { batch } from '../lib/batch.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { stageContract } from './fixtures/contract.js';

async function collect<T>(source: Iterable<T> | AsyncIterable<T>, stage: ReturnType<typeof batch<T>>): Promise<T[][]> {
  const out: T[][] = [];
  await pipeline(
    Readable.from(source),
    stage,
    new Writable({
      objectMode: true,
      write(b: T[], _enc, callback) {
        out.push(b);
        callback();
      },
    }),
  );
  return out;
}

const item = fc.oneof(fc.integer(), fc.string(), fc.record({ id: fc.nat() }));

t.test('batch() then flatten returns the input, in full batches but the last (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 10 }), fc.array(item, { maxLength: 60 }), async (size, input) => {
      const batches = await collect(input, batch(size));
      if (JSON.stringify(batches.flat()) !== JSON.stringify(input)) throw new Error('flatten differs from the input');
      batches.forEach((b, i) => {
        const last = i === batches.length - 1;
        if (last ? b.length < 1 || b.length > size : b.length !== size) throw new Error(`batch ${i} has ${b.length} items`);
      });
    }),
  );
});

t.test('batch() with maxWait and a bursty source returns the input in batches of 1..size (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.tuple(fc.nat(), fc.option(fc.integer({ min: 1, max: 15 }), { freq: 2 })), { maxLength: 25 }),
      async (size, steps) => {
        async function* source(): AsyncGenerator<number> {
          for (const [value, pause] of steps) {
            if (pause !== null) await sleep(pause);
            yield value;
          }
        }
        const batches = await collect(source(), batch<number>(size, { maxWait: 5 }));
        if (batches.flat().join() !== steps.map(([v]) => v).join()) throw new Error('flatten differs from the input');
        if (batches.some((b) => b.length < 1 || b.length > size)) throw new Error(`bad batch sizes ${batches.map((b) => b.length).join()}`);
      },
    ),
    { numRuns: 25 },
  );
});

t.test('batch() emits the partial batch at the end, and nothing for an empty input', async (t) => {
  t.same(await collect([1, 2, 3, 4, 5], batch(2)), [[1, 2], [3, 4], [5]]);
  t.same(await collect([], batch(2)), []);
});

t.test('batch() flushes a partial batch maxWait ms after its first item', async (t) => {
  async function* source(): AsyncGenerator<string> {
    yield 'a';
    await sleep(20); // well within maxWait: same batch
    yield 'b';
    await sleep(600); // well past it: the batch went out alone
    yield 'c';
  }
  t.same(await collect(source(), batch<string>(10, { maxWait: 200 })), [['a', 'b'], ['c']]);
});

t.test('batch() clears the maxWait timer when a batch fills up', async () => {
  const b = batch<number>(2, { maxWait: 60_000 });
  b.resume();
  const check = leakCheck({ timeout: 0 });
  b.write(1);
  b.write(2);
  await check.verify();
  b.destroy();
});

t.test('batch() clears the maxWait timer and drops the partial batch when destroyed', async (t) => {
  const check = leakCheck();
  const b = check.track(batch<number>(10, { maxWait: 60_000 }));
  const out: number[][] = [];
  b.on('data', (x: number[]) => out.push(x));
  b.write(1);
  b.destroy();
  await check.verify();
  t.same(out, []);
});

t.test('batch() is destroyed with the signal reason unchanged on abort', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const stage = check.track(batch<number>(10, { maxWait: 60_000, signal: controller.signal }));
  async function* endless(): AsyncGenerator<number> {
    for (let i = 0; ; i++) {
      yield i;
      await sleep(1);
    }
  }
  const reason = { why: 'stop' };
  setTimeout(() => controller.abort(reason), 20);
  t.equal(
    await collect(endless(), stage).then(
      () => undefined,
      (e: unknown) => e,
    ),
    reason,
  );
  await check.verify();
});

t.test('batch() with maxWait holds upstream back behind a stalled consumer', async (t) => {
  let produced = 0;
  async function* source(): AsyncGenerator<number> {
    for (;;) {
      produced++;
      yield produced;
      await sleep(1);
    }
  }
  const b = batch<number>(3, { maxWait: 2, highWaterMark: 2 });
  const input = Readable.from(source());
  input.pipe(b); // nobody reads b
  await sleep(200);
  t.ok(b.readableLength <= 3, `${b.readableLength} batches buffered`);
  t.ok(produced <= 30, `${produced} items produced`);
  // Reading again brings out what waited, in order.
  const first = b.read() as number[];
  t.same(first.slice(0, 1), [1]);
  input.destroy();
  b.destroy();
  await once(b, 'close');
});

t.test('batch() emits a batch that timed out behind a full buffer when the consumer reads again', async (t) => {
  const b = batch<number>(10, { maxWait: 5, highWaterMark: 1 });
  b.write(1);
  await sleep(50); // [1] timed out and fills the readable side
  b.write(2);
  await sleep(50); // [2] timed out too, but has to wait
  t.equal(b.readableLength, 1);
  t.same(b.read(), [1]);
  t.same(b.read(), [2]);
  b.write(3);
  b.end();
  t.same(await b.toArray(), [[3]]);
});

t.test('batch() validates its arguments', async (t) => {
  t.throws(() => batch(0), new RangeError('batch(): size must be an integer >= 1, got 0 (number)'));
  t.throws(() => batch(Infinity), RangeError);
  t.throws(() => batch(2.5), RangeError);
  t.throws(() => batch('3' as never), TypeError);
  t.throws(() => batch(3, { maxWait: 0 }), new RangeError('batch(): options.maxWait must be a number of milliseconds > 0 and <= 2147483647, got 0 (number)'));
  t.throws(() => batch(3, { maxWait: Infinity }), RangeError);
  t.throws(() => batch(3, { maxWait: '5' as never }), TypeError);
  t.throws(() => batch(3, { highWaterMark: -1 }), RangeError);
  t.throws(() => batch(3, [] as never), TypeError);
});

t.test('batch() refuses a maxWait of 2^31 ms or more, which setTimeout would fire after 1 ms', async (t) => {
  t.throws(
    () => batch(3, { maxWait: 2 ** 31 }),
    new RangeError('batch(): options.maxWait must be a number of milliseconds > 0 and <= 2147483647, got 2147483648 (number)'),
  );
  t.throws(() => batch(3, { maxWait: 2 ** 40 }), RangeError);
  batch(3, { maxWait: 2 ** 31 - 1 }).destroy();
});

stageContract('batch()', (options) => batch<number>(2, options), { userFunction: false, expected: [[0, 1], [2]] });
