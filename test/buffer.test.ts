import t from 'tap';
import fc from 'fast-check';
import { Readable, type Writable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { buffer, BufferOverflowError, map, pipeline, SluiceError, toArray, type BufferOverflow } from '../lib/index.js';
import { Checkpoint, isCheckpoint, passesCheckpoints } from '../lib/internal/checkpoint.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { deferred, endless, rejection, sourceState } from './fixtures/helpers.js';
import { stageContract } from './fixtures/contract.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Whether `sub` is a subsequence of `all`. */
function subsequence(sub: readonly unknown[], all: readonly unknown[]): boolean {
  let i = 0;
  for (const x of all) if (i < sub.length && sub[i] === x) i++;
  return i === sub.length;
}

/** Writes `item`; the result tells whether the write was called back yet. */
function write(stage: Writable, item: unknown): { done: boolean } {
  const state = { done: false };
  stage.write(item, () => (state.done = true));
  return state;
}

t.test('buffer() with "block" passes every item on in order and drops nothing, whatever the pace (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer(), { maxLength: 60 }),
      fc.integer({ min: 1, max: 8 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
      async (input, size, pauses) => {
        const stage = buffer<number>(size);
        let i = 0;
        // The consumer waits a turn of the event loop on some items, so the buffer fills and empties.
        const out = await toArray(
          input,
          stage,
          map(async (n: number) => {
            if (pauses[i++ % pauses.length]) await tick();
            return n;
          }),
        );
        if (out.join() !== input.join()) throw new Error(`got ${out.join()}, expected ${input.join()}`);
        if (stage.dropped !== 0) throw new Error(`dropped ${stage.dropped}`);
      },
    ),
    { numRuns: 60 },
  );
});

t.test('buffer() with "block" holds size items, then holds the writer back until the consumer reads', async (t) => {
  const stage = buffer<number>(3);
  const writes = range(5).map((n) => write(stage, n));
  await tick();
  t.same(
    writes.map((w) => w.done),
    [true, true, false, false, false],
    'the write that filled it waits, and so do the ones after it',
  );
  t.equal(stage.writableNeedDrain, true, 'upstream is told to wait');
  t.equal(stage.read(), 0);
  await tick();
  t.same(
    writes.map((w) => w.done),
    [true, true, true, false, false],
  );
  stage.end();
  t.same(await toArray(stage), [1, 2, 3, 4]);
});

const WRITE = 0;
const READ = 1;
const CHECKPOINT = 2;

/**
 * Writes items, reads and writes checkpoints in the order `steps` gives, checking after each step that
 * at most `size` items are held, that upstream was never told to wait and that `dropped` counts what
 * onDrop got; then reads the rest. Returns the items (checkpoints aside).
 */
async function run(
  size: number,
  overflow: 'drop-oldest' | 'drop-newest',
  steps: readonly number[],
): Promise<{ input: number[]; out: unknown[]; dropped: unknown[] }> {
  const dropped: unknown[] = [];
  const stage = buffer<unknown>(size, { overflow, onDrop: (n) => dropped.push(n) });
  const input: number[] = [];
  const out: unknown[] = [];
  const take = (): void => {
    const item = stage.read();
    if (item !== null && !isCheckpoint(item)) out.push(item);
  };
  for (const step of steps) {
    if (step === READ) take();
    else if (!stage.write(step === WRITE ? input[input.push(input.length) - 1] : new Checkpoint(() => {}))) throw new Error('upstream was told to wait');
    // A read that found nothing left a request open, which the next entry written answered.
    if (stage.readableLength > 0) take();
    const held = input.length - out.length - dropped.length;
    if (held > size || held < 0) throw new Error(`holds ${held} items, size ${size}`);
    if (stage.dropped !== dropped.length) throw new Error(`dropped says ${stage.dropped}, onDrop got ${dropped.length}`);
  }
  stage.end();
  out.push(...(await toArray(stage)).filter((x) => !isCheckpoint(x)));
  return { input, out, dropped };
}

for (const overflow of ['drop-oldest', 'drop-newest'] as const) {
  t.test(`buffer() with "${overflow}" conserves items, holds at most size and never pauses upstream (property)`, async () => {
    const steps = fc.array(fc.constantFrom(WRITE, WRITE, READ, CHECKPOINT), { maxLength: 80 });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), steps, async (size, steps) => {
        const { input, out, dropped } = await run(size, overflow, steps);
        if (out.length + dropped.length !== input.length) throw new Error(`${input.length} in, ${out.length} out, ${dropped.length} dropped`);
        if (!subsequence(out, input)) throw new Error(`out of order: ${out.join()}`);
        if (!subsequence(dropped, input)) throw new Error(`dropped out of order: ${dropped.join()}`);
        if (overflow === 'drop-oldest' && input.length > 0 && out[out.length - 1] !== input[input.length - 1]) {
          throw new Error(`the last item was dropped: ${out.join()}`);
        }
      }),
      { numRuns: 200 },
    );
  });
}

t.test('buffer() with "drop-oldest" keeps the newest items', async (t) => {
  const dropped: string[] = [];
  const stage = buffer<string>(2, { overflow: 'drop-oldest', onDrop: (s) => dropped.push(s) });
  for (const s of ['a', 'b', 'c', 'd']) stage.write(s);
  t.equal(stage.read(), 'c');
  stage.end('e');
  t.same(await toArray(stage), ['d', 'e']);
  t.same(dropped, ['a', 'b']);
  t.equal(stage.dropped, 2);
});

t.test('buffer() with "drop-newest" drops what arrives while it is full', async (t) => {
  const dropped: string[] = [];
  const stage = buffer<string>(2, { overflow: 'drop-newest', onDrop: (s) => dropped.push(s) });
  for (const s of ['a', 'b', 'c', 'd']) stage.write(s);
  t.equal(stage.read(), 'a');
  stage.end('e');
  t.same(await toArray(stage), ['b', 'e']);
  t.same(dropped, ['c', 'd']);
  t.equal(stage.dropped, 2);
});

t.test('buffer() with a dropping policy reads all of upstream behind a stalled consumer, holding size items', async (t) => {
  const state = sourceState();
  async function* source(): AsyncGenerator<number> {
    for await (const i of endless(state)) {
      yield i;
      if (i === 1999) return;
    }
  }
  const stage = buffer<number>(5, { overflow: 'drop-oldest' });
  const gate = deferred();
  const done = pipeline(source(), stage, async (items: AsyncIterable<unknown>) => {
    await gate.promise;
    const out: unknown[] = [];
    for await (const item of items) out.push(item);
    return out;
  });
  while (!state.finished) await tick();
  t.equal(state.produced, 2000, 'the source was read to its end while nothing was consumed');
  t.equal(stage.dropped, 1995);
  gate.resolve();
  await done;
});

t.test('buffer() with "error" fails exactly when an item arrives while size items are held (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(fc.boolean(), { maxLength: 40 }), async (size, steps) => {
      const stage = buffer<number>(size, { overflow: 'error' });
      const failed = new Promise<unknown>((resolve) => stage.once('error', resolve));
      let held = 0;
      for (const isWrite of steps) {
        if (!isWrite) {
          if (stage.read() !== null) held--;
          continue;
        }
        const overflows = held - stage.readableLength === size;
        stage.write(held++);
        if (!overflows) continue;
        const err = await failed;
        if (!(err instanceof BufferOverflowError) || err.size !== size) throw new Error(`failed with ${String(err)}`);
        return;
      }
      await tick();
      if (stage.destroyed) throw new Error(`failed with ${held} held, size ${size}`);
      stage.destroy();
    }),
    { numRuns: 150 },
  );
});

t.test('buffer() with "error" rejects the pipeline with a BufferOverflowError naming the size', async (t) => {
  const err = await rejection(pipeline(range(10), buffer(4, { overflow: 'error' })));
  t.ok(err instanceof BufferOverflowError);
  t.ok(err instanceof SluiceError);
  t.match(err, { code: 'ERR_SLUICE_BUFFER_OVERFLOW', size: 4, message: 'buffer(): an item arrived while full (size 4)' });
});

t.test('buffer() fails with the very value onDrop throws', async (t) => {
  for (const value of [new Error('no room'), undefined, 0]) {
    const stage = buffer<number>(1, {
      overflow: 'drop-newest',
      onDrop: () => {
        throw value;
      },
    });
    const err = await rejection(pipeline([1, 2, 3], stage));
    t.ok(Object.is(err, value), `rejected with ${String(err)}`);
  }
});

t.test('buffer() passes checkpoints on in order and never drops them, whatever the policy and pace (property)', async (t) => {
  t.equal((buffer(1) as unknown as Record<symbol, boolean>)[passesCheckpoints], true);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom<BufferOverflow>('block', 'drop-oldest', 'drop-newest'),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 0, max: 30 }),
      // How many checkpoints follow each item (cycled): none, one, or several in a row.
      fc.array(fc.nat({ max: 2 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
      async (overflow, size, n, marks, pauses) => {
        const seen: number[] = [];
        const resolved: number[] = [];
        const expected: number[] = [];
        const input: unknown[] = [];
        for (let i = 0; i < n; i++) {
          input.push(i);
          const before = i + 1;
          for (let k = 0; k < marks[i % marks.length]!; k++) {
            expected.push(before);
            // Resolved as soon as it comes out (below): no item written after it may have come out yet.
            input.push(
              new Checkpoint(() => {
                if (seen.some((item) => item >= before)) throw new Error(`the checkpoint after ${before} items came out after a later item`);
                resolved.push(before);
              }),
            );
          }
        }
        const stage = buffer(size, { overflow });
        let i = 0;
        await pipeline(Readable.from(input), stage, async (items: AsyncIterable<unknown>) => {
          for await (const x of items) {
            if (isCheckpoint(x)) x.resolve();
            else seen.push(x as number);
            if (pauses[i++ % pauses.length]) await tick();
          }
        });
        if (resolved.join() !== expected.join()) throw new Error(`resolved ${resolved.join()}, expected ${expected.join()}`);
        if (overflow === 'block' && seen.join() !== range(n).join()) throw new Error(`items ${seen.join()}`);
      },
    ),
    { numRuns: 150 },
  );
});

t.test('buffer() fuses checkpoints that meet once the items between them are dropped, so they stay bounded', async (t) => {
  const resolved: number[] = [];
  const checkpoints = [1, 2, 3, 4].map((k) => new Checkpoint(() => resolved.push(k)));
  const stage = buffer(1, { overflow: 'drop-oldest' });
  for (const [k, checkpoint] of checkpoints.entries()) {
    stage.write(checkpoint);
    // Two checkpoints in a row at the end.
    if (k !== 2) stage.write(`item ${k}`);
  }
  stage.end();
  const out = await toArray(stage);
  t.equal(out.length, 2, 'one checkpoint and the last item');
  t.equal(out[1], 'item 3');
  t.ok(isCheckpoint(out[0]));
  (out[0] as Checkpoint).resolve();
  t.same(resolved, [1, 2, 3, 4], 'resolving it resolves every checkpoint it stands for, in order');
  t.equal(stage.dropped, 2);
});

t.test('buffer() counts items in, out and dropped in stats(), blocked while it holds items', async (t) => {
  const stage = buffer<number>(2, { overflow: 'drop-oldest', name: 'latest' });
  for (const n of range(5)) stage.write(n);
  await tick();
  const held = stage.stats();
  t.match(held, { name: 'latest', itemsIn: 5, itemsOut: 0, dropped: 3, busyMs: 0 });
  t.ok(held.blockedMs > 0 && held.starvedMs === 0, 'holding items, it waits for the consumer');
  stage.end();
  t.same(await toArray(stage), [3, 4]);
  t.match(stage.stats(), { itemsIn: 5, itemsOut: 2, dropped: 3 });
  t.equal(buffer(1).stats().name, 'buffer');
});

t.test('buffer() aborted rejects with the reason and leaves nothing behind', async (t) => {
  const controller = new AbortController();
  const reason = new Error('stop');
  const check = leakCheck({ signals: [controller.signal] });
  const stage = check.track(buffer(4, { overflow: 'drop-oldest', signal: controller.signal }));
  const source = check.track(Readable.from(endless()));
  const done = pipeline(source, stage, async (items: AsyncIterable<unknown>) => {
    for await (const _ of items) {
      await tick();
      controller.abort(reason);
    }
  });
  t.equal(await rejection(done), reason);
  await check.verify();
});

t.test('buffer() cleans up when the consumer breaks early', async (t) => {
  const check = leakCheck();
  const state = sourceState();
  const stage = check.track(buffer(3));
  const out: unknown[] = [];
  await pipeline(check.track(Readable.from(endless(state))), stage, async (items: AsyncIterable<unknown>) => {
    for await (const item of items) if (out.push(item) === 10) break;
  }).catch(() => {});
  t.same(out, range(10));
  await check.verify();
  t.ok(state.finished, "the source's finally ran");
});

t.test('buffer() ends once the consumer has read everything held', async (t) => {
  const stage = buffer<number>(4);
  let ended = false;
  stage.on('end', () => (ended = true));
  stage.end(1);
  await tick();
  t.notOk(ended);
  t.same(await toArray(stage), [1]);
  t.ok(ended);
  t.same(await toArray([], buffer(1)), [], 'empty in, empty out');
});

t.test('buffer() refuses a bad size, naming it', async (t) => {
  t.throws(() => buffer(0), { name: 'RangeError', message: 'buffer(): size must be an integer >= 1, got 0 (number)' });
  t.throws(() => buffer(2.5), { name: 'RangeError', message: 'buffer(): size must be an integer >= 1, got 2.5 (number)' });
  t.throws(() => buffer(Infinity), { name: 'RangeError', message: 'buffer(): size must be an integer >= 1, got Infinity (number)' });
  t.throws(() => buffer('8' as never), { name: 'TypeError', message: 'buffer(): size must be an integer >= 1, got "8" (string)' });
});

t.test('buffer() refuses bad and unknown options, naming them', async (t) => {
  t.throws(() => buffer(1, { overflow: 'drop' as never }), {
    name: 'TypeError',
    message: 'buffer(): options.overflow must be one of "block", "drop-newest", "drop-oldest", "error", got "drop" (string)',
  });
  t.throws(() => buffer(1, { onDrop: 1 as never }), { name: 'TypeError', message: 'buffer(): options.onDrop must be a function, got 1 (number)' });
  t.throws(() => buffer(1, { signal: {} as never }), { name: 'TypeError', message: 'buffer(): options.signal must be an AbortSignal, got Object (object)' });
  t.throws(() => buffer(1, { overflw: 'error' } as never), {
    name: 'TypeError',
    message: 'buffer(): options.overflw is not an option (did you mean "overflow"?)',
  });
  t.throws(() => buffer(1, { highWaterMark: 4 } as never), {
    name: 'TypeError',
    message: /^buffer\(\): options\.highWaterMark is not an option; the options are overflow, onDrop, signal, name$/,
  });
  t.throws(() => buffer(1, { name: 1 as never }), { name: 'TypeError', message: 'buffer(): options.name must be a string, got 1 (number)' });
  t.throws(() => buffer(1, null as never), { name: 'TypeError', message: 'buffer(): options must be an object, got null' });
});

// Its readable side holds nothing (every item held can still be dropped) and size bounds the rest.
stageContract('buffer()', (options) => buffer<number>(4, options), {
  highWaterMark: 'none',
  defaults: { readable: 0, writable: 2 },
  userFunction: false,
  expected: [0, 1, 2],
});
