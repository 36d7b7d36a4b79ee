import t from 'tap';
import fc from 'fast-check';
import { once } from 'node:events';
import { PassThrough, Readable, type Duplex } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { map, partition, pipeline, SluiceError, take, toArray } from '../lib/index.js';
import { Checkpoint, isCheckpoint, passesCheckpoints } from '../lib/internal/checkpoint.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { deferred, drain, endless, Lead, rejection } from './fixtures/helpers.js';
import { within } from './fixtures/settle.js';
import { stageContract } from './fixtures/contract.js';

interface Item {
  key: number;
  /** Position in the input. */
  i: number;
  /** Turns of the event loop its work takes (0: synchronous). */
  ticks: number;
}

const items = (specs: ReadonlyArray<readonly [number, number]>): Item[] => specs.map(([key, ticks], i) => ({ key, i, ticks }));

/** A sub-pipeline working `ticks` turns of the event loop on each item. */
const worker = (onStart: (item: Item) => void = () => {}, onEnd: (item: Item) => void = () => {}): Duplex =>
  map(
    async (item: Item) => {
      onStart(item);
      for (let k = 0; k < item.ticks; k++) await tick();
      onEnd(item);
      return item;
    },
    { highWaterMark: 2 },
  );

const specs = fc.array(fc.tuple(fc.nat({ max: 5 }), fc.nat({ max: 2 })), { maxLength: 50 });
const bound = fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(Infinity));

/** Throws unless each key's items came out in input order, every item once. */
function checkOrder(input: readonly Item[], out: readonly unknown[]): void {
  if (out.length !== input.length) throw new Error(`${out.length} items out of ${input.length}`);
  const last = new Map<number, number>();
  for (const { key, i } of out as Item[]) {
    if ((last.get(key) ?? -1) >= i) throw new Error(`key ${key}: item ${i} came after item ${last.get(key)}`);
    last.set(key, i);
  }
}

t.test("partition() keeps each key's order and loses nothing, whatever the keys, latencies and bounds (property)", async () => {
  await fc.assert(
    fc.asyncProperty(specs, bound, bound, fc.integer({ min: 1, max: 4 }), async (s, concurrency, maxKeys, highWaterMark) => {
      const input = items(s);
      const out = await toArray(
        input,
        partition(
          (item: Item) => item.key,
          () => worker(),
          { concurrency, maxKeys, highWaterMark },
        ),
      );
      checkOrder(input, out);
    }),
    { numRuns: 150 },
  );
});

t.test('partition() runs at most concurrency keys at once, one item per key at a time (property)', async () => {
  await fc.assert(
    fc.asyncProperty(specs, fc.integer({ min: 1, max: 4 }), bound, async (s, concurrency, maxKeys) => {
      const running = new Set<number>();
      let most = 0;
      const stage = partition(
        (item: Item) => item.key,
        () =>
          worker(
            (item) => {
              if (running.has(item.key)) throw new Error(`key ${item.key} runs two items at once`);
              running.add(item.key);
              most = Math.max(most, running.size);
            },
            (item) => running.delete(item.key),
          ),
        { concurrency, maxKeys },
      );
      await toArray(items(s), stage);
      if (most > concurrency) throw new Error(`${most} keys ran at once, concurrency ${concurrency}`);
    }),
    { numRuns: 150 },
  );
});

/** Items whose work waits for their own gate; `started` lists them as they start. */
function gated(): { factory: () => Duplex; gates: Map<string, ReturnType<typeof deferred<void>>>; started: string[] } {
  const gates = new Map<string, ReturnType<typeof deferred<void>>>();
  const started: string[] = [];
  const factory = (): Duplex =>
    map(async (item: string) => {
      started.push(item);
      const gate = deferred();
      gates.set(item, gate);
      await gate.promise;
      return item;
    });
  return { factory, gates, started };
}

t.test('partition() runs different keys at once, and holds a new key back while concurrency keys are processing', async (t) => {
  const { factory, gates, started } = gated();
  const stage = partition((item: string) => item[0], factory, { concurrency: 2 });
  const out = toArray(['a1', 'b1', 'a2', 'c1'], stage);
  while (started.length < 2) await tick();
  await tick();
  t.same(started, ['a1', 'b1'], 'a and b run at once; c waits');
  gates.get('b1')!.resolve();
  while (started.length < 3) await tick();
  t.same(started, ['a1', 'b1', 'c1'], 'c starts once b is idle; a2 waits behind a1');
  gates.get('a1')!.resolve();
  while (started.length < 4) await tick();
  gates.get('a2')!.resolve();
  gates.get('c1')!.resolve();
  t.same((await out).sort(), ['a1', 'a2', 'b1', 'c1']);
});

t.test('partition() counts items in, out and in flight inside its sub-pipelines in stats()', async (t) => {
  const { factory, gates, started } = gated();
  const stage = partition((item: string) => item[0], factory, { name: 'per key' });
  const out = toArray(['a1', 'b1', 'a2'], stage);
  while (started.length < 2) await tick();
  await tick();
  t.match(stage.stats(), { name: 'per key', itemsIn: 3, itemsOut: 0, inFlight: 3 });
  gates.get('a1')!.resolve();
  gates.get('b1')!.resolve();
  while (started.length < 3) await tick();
  gates.get('a2')!.resolve();
  t.equal((await out).length, 3);
  t.match(stage.stats(), { itemsIn: 3, itemsOut: 3, inFlight: 0 });
});

t.test('partition() makes one sub-pipeline per key, on its first item', async (t) => {
  const made: string[] = [];
  const stage = partition(
    (s: string) => s[0],
    (key) => {
      made.push(key!);
      return map((s: string) => s.toUpperCase());
    },
  );
  t.same(made, [], 'none before the first item');
  const out = await toArray(['a1', 'b1', 'a2', 'c1', 'b2'], stage);
  t.same(made, ['a', 'b', 'c']);
  t.same(out.sort(), ['A1', 'A2', 'B1', 'B2', 'C1']);
});

t.test('partition() keeps memory bounded behind a slow consumer', async (t) => {
  const keys = 3;
  const highWaterMark = 2;
  const lead = new Lead();
  const stage = partition(
    (n: number) => n % keys,
    () => map((n: number) => n, { highWaterMark }),
    { highWaterMark },
  );
  await pipeline(lead.source(300), stage, async (out: AsyncIterable<unknown>) => {
    for await (const _ of out) {
      lead.took();
      await tick();
    }
  });
  t.equal(lead.consumed, 300);
  // Per sub-pipeline: both buffers and one item in hand, and one more it gives after the readable side
  // filled; then partition's two buffers, and the item being written.
  const bound = keys * (2 * highWaterMark + 2) + 2 * highWaterMark + 1;
  t.ok(lead.most <= bound, `the source got at most ${bound} items ahead of the consumer, saw ${lead.most}`);
});

t.test('partition() ends the least recently used idle sub-pipeline when maxKeys is reached', async (t) => {
  const subs = new Map<string, Duplex[]>();
  const stage = partition(
    (s: string) => s[0]!,
    (key) => {
      const sub = map((s: string) => s);
      subs.set(key, [...(subs.get(key) ?? []), sub]);
      return sub;
    },
    { maxKeys: 2 },
  );
  const out: unknown[] = [];
  stage.on('data', (item) => out.push(item));
  for (const item of ['a1', 'b1', 'a2', 'c1']) {
    stage.write(item);
    await tick();
  }
  t.ok(subs.get('b')![0]!.writableEnded, 'b, used least recently, was ended');
  t.notOk(subs.get('a')![0]!.writableEnded, 'a stays');
  stage.end();
  await once(stage, 'end');
  t.same(out, ['a1', 'b1', 'a2', 'c1']);
});

t.test('partition() waits while maxKeys sub-pipelines are all busy', async (t) => {
  const { factory, gates, started } = gated();
  const stage = partition((item: string) => item[0], factory, { maxKeys: 1 });
  const out = toArray(['a1', 'b1'], stage);
  while (started.length < 1) await tick();
  await tick();
  t.same(started, ['a1'], 'b waits for a place');
  gates.get('a1')!.resolve();
  while (started.length < 2) await tick();
  gates.get('b1')!.resolve();
  t.same(await out, ['a1', 'b1']);
});

t.test('partition() ends a sub-pipeline idle for idleTimeout ms; a later item for its key waits for its output to end, then gets a new one', async (t) => {
  const check = leakCheck();
  const subs: Duplex[] = [];
  // Two outputs per item: the second stays in the sub-pipeline while the consumer does not read.
  const stage = partition(
    (s: string) => s[0],
    () =>
      subs[
        subs.push(
          check.track(
            map(async function* (s: string) {
              yield `${s}.1`;
              yield `${s}.2`;
            }),
          ),
        ) - 1
      ]!,
    { idleTimeout: 1, highWaterMark: 1 },
  );
  stage.write('a1');
  await once(subs[0]!, 'finish');
  stage.write('a2');
  stage.end();
  t.same(await toArray(stage), ['a1.1', 'a1.2', 'a2.1', 'a2.2'], "the old sub-pipeline's output first");
  t.equal(subs.length, 2, 'a new sub-pipeline for the same key');
  await check.verify();
});

t.test('partition() holds a checkpoint while a sub-pipeline is ending, until its output has ended', async (t) => {
  const subs: Duplex[] = [];
  const stage = partition(
    (s: string) => s[0],
    () =>
      subs[
        subs.push(
          map(async function* (s: string) {
            yield `${s}.1`;
            yield `${s}.2`;
          }),
        ) - 1
      ]!,
    { idleTimeout: 1, highWaterMark: 1 },
  );
  stage.write('a1');
  await once(subs[0]!, 'finish');
  let passed = false;
  stage.write(new Checkpoint(() => (passed = true)));
  stage.end('b1');
  const out: unknown[] = [];
  for await (const item of stage) {
    if (isCheckpoint(item)) item.resolve();
    out.push(isCheckpoint(item) ? 'checkpoint' : item);
  }
  t.same(out, ['a1.1', 'a1.2', 'checkpoint', 'b1.1', 'b1.2']);
  t.ok(passed);
});

t.test('partition() leaves no timer behind when the input ends', async (t) => {
  // One key: busy until the end. Three: idle now and then, so the timer runs.
  for (const keys of [1, 3]) {
    const check = leakCheck();
    const stage = check.track(
      partition(
        (n: number) => n % keys,
        () => check.track(map(async (n: number) => (await tick(), n))),
        { idleTimeout: 1000 },
      ),
    );
    t.same((await toArray([1, 2, 3, 4, 5, 6], stage)).sort(), [1, 2, 3, 4, 5, 6]);
    await check.verify();
  }
});

t.test('partition() replaces a sub-pipeline that ended by itself', async (t) => {
  const made: Duplex[] = [];
  const stage = partition(
    (s: string) => s[0],
    () => made[made.push(take(1)) - 1]!,
  );
  const out: unknown[] = [];
  stage.on('data', (item) => out.push(item));
  stage.write('a1');
  await once(made[0]!, 'close');
  stage.end('a2');
  await once(stage, 'end');
  t.same(out, ['a1', 'a2']);
  t.equal(made.length, 2);
  // Written before it ended, a2 is dropped with it, as take() drops what comes after its limit; the
  // key no longer counts as processing, so b1 goes on.
  const one = partition(
    (s: string) => s[0],
    () => take(1),
    { concurrency: 1 },
  );
  t.same(await within(toArray(['a1', 'a2', 'b1'], one), 'toArray()'), ['a1', 'b1']);
});

t.test('partition() fails fast with the very error of a sub-pipeline and leaves nothing behind (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      specs.filter((s) => s.length > 0),
      fc.nat(),
      bound,
      async (s, at, concurrency) => {
        const input = items(s);
        const failing = at % input.length;
        const boom = new Error('boom');
        const check = leakCheck();
        const stage = check.track(
          partition(
            (item: Item) => item.key,
            () =>
              check.track(
                map(async (item: Item) => {
                  for (let k = 0; k < item.ticks; k++) await tick();
                  if (item.i === failing) throw boom;
                  return item;
                }),
              ),
            { concurrency, idleTimeout: 1000 },
          ),
        );
        const error = await rejection(pipeline(input, stage, drain));
        if (error !== boom) throw new Error(`rejected with ${String(error)}`);
        await check.verify();
      },
    ),
    { numRuns: 60 },
  );
});

t.test('partition() fails with the very value key() or factory() throws', async (t) => {
  for (const value of [new Error('bad key'), undefined, 0]) {
    const byKey = partition(
      (n: number) => {
        if (n === 2) throw value;
        return n;
      },
      () => map((n: number) => n),
    );
    t.ok(Object.is(await rejection(toArray([1, 2, 3], byKey)), value), `key() threw ${String(value)}`);
    const byFactory = partition(
      (n: number) => n,
      (n) => {
        if (n === 2) throw value;
        return map((x: number) => x);
      },
    );
    t.ok(Object.is(await rejection(toArray([1, 2, 3], byFactory)), value), `factory() threw ${String(value)}`);
  }
});

t.test('partition() fails with a TypeError when factory() does not return a Duplex', async (t) => {
  const readable = Readable.from([]);
  const err = await rejection(
    toArray(
      ['x'],
      partition(
        (s: string) => s,
        () => readable as never,
      ),
    ),
  );
  t.match(err, { name: 'TypeError', message: /^partition\(\): factory\("x" \(string\)\) must return a Duplex, got \w+ \(object\)$/ });
  t.ok(readable.destroyed, 'what it returned is destroyed');
  t.match(
    await rejection(
      toArray(
        [1],
        partition(
          (n: number) => n,
          () => null as never,
        ),
      ),
    ),
    {
      name: 'TypeError',
      message: 'partition(): factory(1 (number)) must return a Duplex, got null',
    },
  );
});

t.test('partition() fails with ERR_SLUICE_CLOSED_EARLY when a sub-pipeline is destroyed without an error', async (t) => {
  const stage = partition(
    (n: number) => n % 2,
    () => {
      const sub = map((n: number) => n);
      sub.once('data', () => sub.destroy());
      return sub;
    },
  );
  const err = await rejection(toArray([1, 2, 3, 4], stage));
  t.ok(err instanceof SluiceError);
  t.match(err, { code: 'ERR_SLUICE_CLOSED_EARLY', message: 'partition(): the sub-pipeline for key 1 (number) closed before its output ended' });
});

t.test('partition() aborted at a random moment rejects with the reason and leaves nothing behind (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: 5 }), fc.nat({ max: 40 }), async (keys, abortAfter) => {
      const controller = new AbortController();
      const reason = new Error('aborted');
      const check = leakCheck({ signals: [controller.signal] });
      const stage = check.track(
        partition(
          (n: number) => n % (keys + 1),
          () =>
            check.track(
              map(async (n: number) => {
                await tick();
                return n;
              }),
            ),
          { idleTimeout: 1000, signal: controller.signal },
        ),
      );
      let seen = 0;
      const done = pipeline(check.track(Readable.from(endless())), stage, async (out: AsyncIterable<unknown>) => {
        for await (const _ of out) if (seen++ === abortAfter) controller.abort(reason);
      });
      if (abortAfter === 0) controller.abort(reason);
      const error = await rejection(done);
      if (error !== reason) throw new Error(`rejected with ${String(error)}`);
      await check.verify();
    }),
    { numRuns: 30 },
  );
});

t.test('partition() cleans up every sub-pipeline when the consumer breaks early', async (t) => {
  const check = leakCheck();
  const source = check.track(Readable.from(endless()), 'source');
  const stage = check.track(
    partition(
      (n: number) => n % 3,
      (key) =>
        check.track(
          map(async (n: number) => (await tick(), n)),
          `key ${key}`,
        ),
      { idleTimeout: 1000 },
    ),
  );
  source.pipe(stage);
  let n = 0;
  for await (const _ of stage) if (++n === 10) break;
  source.destroy();
  await check.verify();
  t.equal(n, 10);
});

t.test('partition() passes a checkpoint on only once every item before it has left every sub-pipeline (property)', async (t) => {
  t.equal(
    (
      partition(
        () => 0,
        () => map((x: unknown) => x),
      ) as unknown as Record<symbol, boolean>
    )[passesCheckpoints],
    true,
  );
  await fc.assert(
    fc.asyncProperty(specs, fc.array(fc.nat({ max: 2 }), { minLength: 1, maxLength: 5 }), bound, bound, async (s, marks, concurrency, maxKeys) => {
      const input = items(s);
      const seen = new Set<number>();
      const expected: number[] = [];
      const resolved: number[] = [];
      const written: unknown[] = [];
      for (const item of input) {
        written.push(item);
        for (let k = 0; k < marks[item.i % marks.length]!; k++) {
          const before = item.i + 1;
          expected.push(before);
          written.push(
            new Checkpoint(() => {
              for (let i = 0; i < before; i++) if (!seen.has(i)) throw new Error(`a checkpoint passed before item ${i}`);
              resolved.push(before);
            }),
          );
        }
      }
      const stage = partition(
        (item: Item) => item.key,
        () => worker(),
        { concurrency, maxKeys },
      );
      await pipeline(Readable.from(written), stage, async (out: AsyncIterable<unknown>) => {
        for await (const x of out) {
          if (isCheckpoint(x)) x.resolve();
          else seen.add((x as Item).i);
        }
      });
      if (resolved.join() !== expected.join()) throw new Error(`resolved ${resolved.join()}, expected ${expected.join()}`);
    }),
    { numRuns: 150 },
  );
});

t.test('partition() with no sub-pipeline open passes a checkpoint on at once, waiting only for room', async (t) => {
  const stage = partition(
    (n: number) => n,
    () => map((n: number) => n),
    { highWaterMark: 1 },
  );
  const first = new Checkpoint(() => {});
  let written = false;
  stage.write(first, () => (written = true));
  stage.write(new Checkpoint(() => {}));
  await tick();
  t.notOk(written, 'the readable side is full: the write waits');
  t.equal(stage.read(), first);
  await tick();
  t.ok(written);
  stage.end();
  t.equal((await toArray(stage)).filter(isCheckpoint).length, 1);
  const out = await toArray(
    [new Checkpoint(() => {}), 1],
    partition(
      (n: number) => n,
      () => map((n: number) => n),
    ),
  );
  t.ok(isCheckpoint(out[0]), 'first, with room');
});

t.test('partition() refuses a sub-pipeline that does not pass checkpoints on, once a checkpoint arrives', async (t) => {
  const make = () =>
    partition(
      (n: number) => n,
      () => new PassThrough({ objectMode: true }),
    );
  t.same((await toArray([1, 2], make())).sort(), [1, 2], 'without checkpoints it serves');
  const err = await rejection(toArray([1, new Checkpoint(() => {}), 2], make() as never));
  t.match(err, {
    name: 'TypeError',
    message:
      'partition(): the sub-pipeline for key 1 (number) (PassThrough) does not pass checkpoints on; with a source that acknowledges its items, every sub-pipeline must be a sluice stage',
  });
});

t.test('partition() refuses bad arguments and options, naming them', async (t) => {
  const factory = () => map((x: unknown) => x);
  t.throws(() => partition('k' as never, factory), { name: 'TypeError', message: 'partition(): key must be a function, got "k" (string)' });
  t.throws(() => partition(() => 0, null as never), { name: 'TypeError', message: 'partition(): factory must be a function, got null' });
  t.throws(() => partition(() => 0, factory, { concurrency: 0 }), {
    name: 'RangeError',
    message: 'partition(): options.concurrency must be an integer >= 1 or Infinity, got 0 (number)',
  });
  t.throws(() => partition(() => 0, factory, { maxKeys: 1.5 }), {
    name: 'RangeError',
    message: 'partition(): options.maxKeys must be an integer >= 1 or Infinity, got 1.5 (number)',
  });
  t.throws(() => partition(() => 0, factory, { idleTimeout: 0 }), {
    name: 'RangeError',
    message: 'partition(): options.idleTimeout must be a number of milliseconds > 0 and <= 2147483647, got 0 (number)',
  });
  t.throws(() => partition(() => 0, factory, { highWaterMark: -1 }), {
    name: 'RangeError',
    message: 'partition(): options.highWaterMark must be an integer >= 0, got -1 (number)',
  });
  t.throws(() => partition(() => 0, factory, { maxkeys: 2 } as never), {
    name: 'TypeError',
    message: 'partition(): options.maxkeys is not an option (did you mean "maxKeys"?)',
  });
});

stageContract(
  'partition()',
  (options, hooks) =>
    partition(
      (n: number) => {
        hooks.visit(n);
        return n % 2;
      },
      () => map((n: number) => n),
      options,
    ),
  { expected: [0, 1, 2], unordered: true },
);
