// Checkpoints (lib/internal/checkpoint.ts) through the engine's stages: a checkpoint passes on only
// once every item written before it has left the stage.
import t from 'tap';
import fc from 'fast-check';
import { setImmediate as tick } from 'node:timers/promises';
import { chain } from '../lib/chain.js';
import { filter } from '../lib/filter.js';
import { map } from '../lib/map.js';
import { parallel } from '../lib/parallel.js';
import { toArray } from '../lib/to-array.js';
import { many } from '../lib/chain.js';
import { Checkpoint, isCheckpoint, passesCheckpoints } from '../lib/internal/checkpoint.js';

/** Items with a checkpoint after every `every` of them; each checkpoint records, when it passes, how many items had come out. */
function marked(n: number, every: number, seen: { out: number; at: number[] }): unknown[] {
  const items: unknown[] = [];
  for (let i = 0; i < n; i++) {
    items.push(i);
    if ((i + 1) % every === 0) {
      const before = i + 1;
      items.push(new Checkpoint(() => seen.at.push(before)));
    }
  }
  return items;
}

t.test('Checkpoint.fork() resolves the original once every copy is resolved', async (t) => {
  let done = 0;
  const cp = new Checkpoint(() => done++);
  const [a, b] = cp.fork(2);
  a!.resolve();
  t.equal(done, 0);
  b!.resolve();
  t.equal(done, 1);
  b!.resolve();
  t.equal(done, 1, 'once');
  let none = 0;
  new Checkpoint(() => none++).fork(0);
  t.equal(none, 1, 'no branch: resolved at once');
});

for (const [name, make] of [
  [
    'map() one at a time',
    () =>
      map(async (n: number) => {
        if (n % 3 === 0) await tick();
        return n;
      }),
  ],
  [
    'chain() with concurrency, ordered',
    () =>
      chain(
        [
          async (n: number) => {
            if (n % 3 === 0) await tick();
            return n;
          },
        ],
        { concurrency: 4 },
      ),
  ],
  [
    'parallel(), unordered',
    () =>
      parallel(
        async (n: number) => {
          await (n % 2 === 0 ? tick() : undefined);
          return n;
        },
        { concurrency: 4, ordered: false },
      ),
  ],
  ['filter()', () => filter((n: number) => n % 2 === 0)],
] as const) {
  t.test(`${name} passes a checkpoint on only after every item written before it`, async (t) => {
    t.ok((make() as unknown as Record<symbol, boolean>)[passesCheckpoints]);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 7 }), async (n, every) => {
        const seen = { out: 0, at: [] as number[] };
        const stage = make();
        const out = await toArray(marked(n, every, seen), stage as never);
        // Before each checkpoint came out, every item written before it had come out (or was dropped).
        let items = 0;
        let checkpoints = 0;
        for (const item of out) {
          if (isCheckpoint(item)) {
            checkpoints++;
            const before = checkpoints * every;
            const expectedOut = name === 'filter()' ? Math.ceil(before / 2) : before;
            if (items < expectedOut) throw new Error(`checkpoint after ${before} passed with only ${items} items out`);
          } else items++;
        }
        t.equal(checkpoints, Math.floor(n / every));
      }),
      { numRuns: 40 },
    );
  });
}

// ---- Through every stage, end to end -------------------------------------------------------------

import { Readable, Transform, Writable } from 'node:stream';
import { batch } from '../lib/batch.js';
import { distribute } from '../lib/distribute.js';
import { merge } from '../lib/merge.js';
import { pipeline } from '../lib/pipeline.js';
import { rateLimit } from '../lib/rate-limit.js';
import { take } from '../lib/take.js';
import { tee } from '../lib/tee.js';
import { through } from '../lib/through.js';
import { usesCheckpoints } from '../lib/internal/checkpoint.js';
import { buffer } from '../lib/buffer.js';
import { partition } from '../lib/partition.js';

/**
 * A source that acknowledges its items, as a Redis consumer group does: `n` numbers, a checkpoint
 * after every `every`; `acked` is the count of items before each resolved checkpoint.
 */
function ackingSource(n: number, every: number, acked: number[]): Readable {
  const items: unknown[] = [];
  for (let i = 0; i < n; i++) {
    items.push(i);
    if ((i + 1) % every === 0 || i === n - 1) {
      const before = i + 1;
      items.push(new Checkpoint(() => acked.push(before)));
    }
  }
  const source = Readable.from(items, { objectMode: true });
  Object.defineProperty(source, usesCheckpoints, { value: true });
  return source;
}

/** A plain Writable that records what it was given (slowly, on timers), and how many it had when asked. */
function recordingSink(): Writable & { items: unknown[] } {
  const items: unknown[] = [];
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 2,
    write(item, _e, cb) {
      setImmediate(() => {
        items.push(item);
        cb();
      });
    },
  });
  return Object.assign(sink, { items });
}

t.test('pipeline() resolves each checkpoint once the last stage has every item before it, through every kind of stage', async (t) => {
  const seenByUser: unknown[] = [];
  const stages = () => [
    map((n: number) => {
      seenByUser.push(n);
      return n;
    }),
    batch<number>(3),
    map((b: number[]) => many(b)),
    rateLimit<number>({ rate: 1e6 }),
    through<number, number>((n, _e, cb) => {
      cb(null, n);
    }),
    distribute(2, () => chain([async (n: number) => n], { concurrency: 2, ordered: false })),
    chain([(n: number) => n, map(async (n: number) => n, { highWaterMark: 2 })]),
    buffer<number>(4),
    partition(
      (n: number) => n % 3,
      () => map(async (n: number) => n),
    ),
  ];
  for (const every of [1, 4, 7]) {
    const acked: number[] = [];
    const sink = recordingSink();
    const total = 40;
    await pipeline(
      ackingSource(total, every, acked),
      ...(stages() as never[]),
      new Writable({
        objectMode: true,
        write(item, _e, cb) {
          sink.write(item, cb);
        },
        final(cb) {
          sink.end(cb);
        },
      }),
    );
    t.same(acked.length, Math.ceil(total / every), `every=${every}: every checkpoint resolved`);
    t.same(
      [...sink.items].sort((a, b) => (a as number) - (b as number)),
      Array.from({ length: total }, (_, i) => i),
    );
    t.ok(
      seenByUser.every((x) => typeof x === 'number'),
      'no function saw a checkpoint',
    );
  }
});

t.test('pipeline() resolves a checkpoint only after the sink has taken the items before it', async (t) => {
  const acked: number[] = [];
  const taken: number[] = [];
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 1,
    write(item: number, _e, cb) {
      setImmediate(() => {
        taken.push(item);
        cb();
      });
    },
  });
  const order: string[] = [];
  const source = ackingSource(20, 5, acked);
  const watch = setInterval(() => order.push(`${taken.length}:${acked.join('/')}`), 0);
  await pipeline(
    source,
    map((n: number) => n),
    sink,
  );
  clearInterval(watch);
  t.same(acked, [5, 10, 15, 20]);
  for (const step of order) {
    const [count, acks] = step.split(':');
    const last = Number(acks!.split('/').filter(Boolean).pop() ?? 0);
    t.ok(Number(count) >= last, `acked ${last} with ${count} taken`);
  }
});

t.test('pipeline() with an acknowledging source hands an async function sink the items alone', async (t) => {
  const acked: number[] = [];
  const got: unknown[] = [];
  await pipeline(
    ackingSource(10, 3, acked),
    map((n: number) => n * 2),
    async (items: AsyncIterable<unknown>) => {
      for await (const item of items) got.push(item);
    },
  );
  t.same(
    got,
    Array.from({ length: 10 }, (_, i) => i * 2),
  );
  t.same(acked, [3, 6, 9, 10]);
});

t.test('pipeline() refuses a stage that does not pass checkpoints on, after an acknowledging source, naming it', async (t) => {
  const foreign = new Transform({ objectMode: true, transform: (c, _e, cb) => cb(null, c) });
  t.throws(() => pipeline(ackingSource(3, 1, []), foreign, recordingSink()), /pipeline\(\): stages\[1\] \(Transform\) does not pass checkpoints on/);
  t.throws(
    () =>
      pipeline(
        ackingSource(3, 1, []),
        async function* (src: AsyncIterable<unknown>) {
          yield* src;
        },
        recordingSink(),
      ),
    /stages\[1\] \(a function\) does not pass checkpoints on/,
  );
  foreign.destroy();
});

t.test('tee() resolves a checkpoint once every destination has taken the items before it; take() passes them while it takes', async (t) => {
  const acked: number[] = [];
  const a = recordingSink();
  const b = recordingSink();
  const rest: unknown[] = [];
  await pipeline(ackingSource(12, 4, acked), tee([a, b], { passThrough: true }), take(100), async (items: AsyncIterable<unknown>) => {
    for await (const item of items) rest.push(item);
  });
  t.same(acked, [4, 8, 12]);
  t.same(
    a.items,
    Array.from({ length: 12 }, (_, i) => i),
  );
  t.same(b.items, a.items);
  t.same(rest, a.items);
});

t.test("merge() of acknowledging sources passes each one's checkpoints on", async (t) => {
  const one: number[] = [];
  const two: number[] = [];
  const sink = recordingSink();
  await pipeline(
    merge([ackingSource(6, 2, one), ackingSource(4, 2, two)]),
    map((n: number) => n),
    sink,
  );
  t.same(one, [2, 4, 6]);
  t.same(two, [2, 4]);
  t.equal(sink.items.length, 10);
});
