import t from 'tap';
import { spawnSync } from 'node:child_process';
import { type Duplex, PassThrough, Readable, Transform, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { chain, many } from '../lib/chain.js';
import { map } from '../lib/map.js';
import { pipeline } from '../lib/pipeline.js';
import { toArray } from '../lib/to-array.js';
import type { StageContext } from '../lib/internal/engine.js';
import type { TypedDuplex } from '../lib/internal/types.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { counted, deferred, drain, endless, producer, rejection, slowSink, sourceState, thrown, turns } from './fixtures/helpers.js';
import { stageContract } from './fixtures/contract.js';

const passThrough = (highWaterMark = 16): PassThrough => new PassThrough({ objectMode: true, highWaterMark });
// chain()'s typed overloads have no place for a plain Readable opening or a Writable closing a chain
// (only sluice stages carry item types), so these casts stand in for them.
const opening = <O>(stream: Readable): TypedDuplex<unknown, O> => stream as unknown as TypedDuplex<unknown, O>;
const closing = <I>(stream: Writable): TypedDuplex<I, never> => stream as unknown as TypedDuplex<I, never>;

t.test('chain() composes sync functions', async (t) => {
  const c = chain([(s: string) => s.trim(), (s) => s.length, (n) => n * 2]);
  t.same(await toArray([' ab ', 'c'], c), [4, 2]);
});

t.test('chain() awaits async functions between sync ones', async (t) => {
  const c = chain([
    (n: number) => n + 1,
    async (n) => {
      await sleep(3 - n);
      return n * 10;
    },
    (n) => `${n}`,
  ]);
  t.same(await toArray([0, 1, 2], c), ['10', '20', '30']);
});

t.test('chain() drops an item when a function returns undefined and skips the later stages', async (t) => {
  const later: number[] = [];
  const c = chain([
    (n: number) => (n % 2 === 0 ? undefined : n),
    (n) => {
      later.push(n);
      return n;
    },
  ]);
  t.same(await toArray([1, 2, 3, 4], c), [1, 3]);
  t.same(later, [1, 3]);
});

t.test('chain() drops an item when an async function resolves to undefined', async (t) => {
  t.same(await toArray([1, 2, 3], chain([async (n: number) => (n === 2 ? undefined : n), (n) => n * 2])), [2, 6]);
});

t.test('chain() drops an item when a function returns null, without ending the chain', async (t) => {
  t.same(await toArray([1, 2, 3], chain([(n: number) => (n === 2 ? null : n), (n) => n])), [1, 3]);
});

t.test('chain() passes each value of many() through the later stages', async (t) => {
  t.same(await toArray([1, 2], chain([(n: number) => many([n, -n]), (n) => n * 10])), [10, -10, 20, -20]);
});

t.test('chain() passes nothing on for an empty many()', async (t) => {
  t.same(await toArray([1, 2], chain([(n: number) => (n === 1 ? many<number>([]) : n), (n) => n])), [2]);
});

t.test('chain() passes each yield of a generator stage through the later stages', async (t) => {
  const c = chain([
    function* (n: number) {
      for (let i = 0; i < n; i++) yield i;
    },
    (i) => i * 10,
  ]);
  t.same(await toArray([2, 3], c), [0, 10, 0, 10, 20]);
});

t.test('chain() passes each yield of an async generator stage through the later stages', async (t) => {
  const c = chain([
    async function* (n: number) {
      for (let i = 0; i < n; i++) {
        await sleep(1);
        yield i;
      }
    },
    (i) => i + 1,
  ]);
  t.same(await toArray([2, 1], c), [1, 2, 1]);
});

t.test('chain() passes a signal and a per-stage 0-based index to each function', async (t) => {
  const seen: [string, number][] = [];
  const c = chain([
    (n: number, ctx: StageContext) => {
      seen.push(['first', ctx.index]);
      return many([n, n]);
    },
    (n: number, ctx: StageContext) => {
      seen.push(['second', ctx.index]);
      t.equal(ctx.signal.aborted, false);
      return n;
    },
  ]);
  await toArray([1, 2], c);
  t.same(seen, [
    ['first', 0],
    ['second', 0],
    ['second', 1],
    ['first', 1],
    ['second', 2],
    ['second', 3],
  ]);
});

t.test('chain([]) passes items through', async (t) => {
  const a = { a: 1 };
  const out = await toArray([a, 2, 'three'], chain([]));
  t.same(out, [a, 2, 'three']);
  t.equal(out[0], a);
});

t.test('chain() fuses adjacent functions into one stream hop', async (t) => {
  // Nobody reads: with every function its own stream, items would be buffered between them (one
  // hop after another); fused, the first function only runs for what the one readable side holds.
  let calls = 0;
  const c = chain(
    [
      (n: number) => {
        calls++;
        return n;
      },
      (n) => n,
      (n) => n,
      (n) => n,
      (n) => n,
    ],
    { highWaterMark: 1 },
  );
  for (let i = 0; i < 20; i++) c.write(i);
  await turns(10);
  t.equal(calls, 1);
  t.equal(c.readableLength, 1);
  c.destroy();
});

t.test('chain() runs Node streams between functions', async (t) => {
  const upper = new Transform({
    objectMode: true,
    transform(chunk: string, _encoding, callback) {
      callback(null, chunk.toUpperCase());
    },
  });
  const c = chain([(s: string) => `${s}!`, upper, (s: string) => `<${s}>`, passThrough(), map((s: string) => s.length)]);
  t.same(await toArray(['a', 'bc'], c), [4, 5]);
});

t.test('chain() runs a Web TransformStream between functions', async (t) => {
  const inc = new TransformStream<number, number>({
    transform(n, controller) {
      controller.enqueue(n + 1);
    },
  });
  t.same(await toArray([1, 2], chain([(n: number) => n * 2, inc, (n: number) => n * 10])), [30, 50]);
});

t.test('chain() runs a Web TransformStream alone', async (t) => {
  const double = new TransformStream<number, number>({
    transform(n, controller) {
      controller.enqueue(n);
      controller.enqueue(n);
    },
  });
  t.same(await toArray([1, 2], chain([double])), [1, 1, 2, 2]);
});

t.test('chain() may open with a Readable and is then read-only', async (t) => {
  const c = chain([opening<number>(Readable.from([1, 2, 3])), (n: number) => n * 2]);
  t.equal(c.writable, false);
  t.same(await c.toArray(), [2, 4, 6]);
});

t.test('chain() opening with a Readable serves as a pipeline source', async (t) => {
  t.same(await toArray(chain([opening<string>(Readable.from(['a', 'b'])), (s: string) => s.toUpperCase()])), ['A', 'B']);
});

t.test('chain() may close with a Writable and is then write-only', async (t) => {
  const got: number[] = [];
  const sink = new Writable({
    objectMode: true,
    write(n: number, _encoding, callback) {
      got.push(n);
      callback();
    },
  });
  const c = chain([(n: number) => n * 2, passThrough(), (n: number) => n + 1, closing<number>(sink)]);
  t.equal(c.readable, false);
  await pipeline([1, 2, 3], c);
  t.same(got, [3, 5, 7]);
});

t.test('chain() refuses a Readable that is not the first stage', async (t) => {
  const err = thrown(() => chain([(n: number) => n, Readable.from([1]) as never]));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^chain\(\): stages\[1\] is a Readable; only the first stage may be one$/);
});

t.test('chain() refuses a Writable that is not the last stage', async (t) => {
  const err = thrown(() => chain([new Writable({ write: (_c, _e, cb) => cb() }) as never, (n: number) => n]));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^chain\(\): stages\[0\] is a Writable; only the last stage may be one$/);
});

t.test('chain() refuses a stage that is neither a function nor a stream', async (t) => {
  const err = thrown(() => chain([(n: number) => n, 42 as never]));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^chain\(\): stages\[1\] must be a function, a Node stream or a TransformStream, got 42 \(number\)$/);
  const nul = thrown(() => chain([null as never]));
  t.match((nul as Error).message, /stages\[0\] must be a function, a Node stream or a TransformStream, got null/);
});

t.test('chain() refuses stages that are not an array', async (t) => {
  const err = thrown(() => chain(((n: number) => n) as never));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^chain\(\): stages must be an array, got a function$/);
});

t.test('chain() refuses an invalid highWaterMark', async (t) => {
  const err = thrown(() => chain([], { highWaterMark: -2 }));
  t.ok(err instanceof RangeError);
  t.match((err as Error).message, /^chain\(\): options.highWaterMark must be an integer >= 0, got -2 \(number\)$/);
});

t.test('many() refuses values that are not iterable', async (t) => {
  const err = thrown(() => many(3 as never));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^many\(\): values must be an iterable, got \d+ \(number\)$/);
});

// An error thrown in any stage destroys the chain with that very error object.
const boom = new Error('boom');
const throwsAt2 = (n: number): number => {
  if (n === 2) throw boom;
  return n;
};
const failing: [string, () => Duplex][] = [
  ['a sync function', () => chain([(n: number) => n, throwsAt2, (n: number) => n])],
  ['an async function', () => chain([async (n: number) => throwsAt2(n), (n: number) => n])],
  ['the first function before a stream', () => chain([throwsAt2, passThrough(), (n: number) => n])],
  ['the last function after a stream', () => chain([(n: number) => n, passThrough(), throwsAt2])],
  [
    'a generator',
    () =>
      chain([
        function* (n: number) {
          yield n;
          throwsAt2(n);
        },
        passThrough(),
      ]),
  ],
  [
    'an async generator',
    () =>
      chain([
        async function* (n: number) {
          await sleep(1);
          yield throwsAt2(n);
        },
        (n: number) => n,
      ]),
  ],
  [
    'a Node Transform',
    () =>
      chain([
        (n: number) => n,
        new Transform({
          objectMode: true,
          transform(n: number, _encoding, callback) {
            if (n === 2) callback(boom);
            else callback(null, n);
          },
        }),
        (n: number) => n,
      ]),
  ],
  [
    'a Web TransformStream',
    () =>
      chain([
        (n: number) => n,
        new TransformStream<number, number>({
          transform(n, controller) {
            controller.enqueue(throwsAt2(n));
          },
        }),
        (n: number) => n,
      ]),
  ],
  [
    'an opening Readable',
    () =>
      chain([
        opening<number>(
          new Readable({
            objectMode: true,
            read() {
              this.destroy(boom);
            },
          }),
        ),
        (n: number) => n,
      ]),
  ],
];
for (const [what, make] of failing) {
  t.test(`chain() destroys the chain with the very error thrown in ${what}`, async (t) => {
    const c = make();
    const errors: unknown[] = [];
    c.on('error', (err) => errors.push(err));
    const err = await rejection(c.writable ? toArray([1, 2, 3], c) : toArray(c));
    t.equal(err, boom);
    t.equal(errors[0], boom);
    t.equal(c.destroyed, true);
  });
}

t.test('chain() destroys the chain with the very error of a closing Writable', async (t) => {
  const c = chain([
    (n: number) => n,
    closing<number>(
      new Writable({
        objectMode: true,
        write(n: number, _encoding, callback) {
          callback(n === 2 ? boom : null);
        },
      }),
    ),
  ]);
  t.equal(await rejection(pipeline([1, 2, 3], c)), boom);
});

t.test("chain() runs a generator stage's finally when the chain is destroyed", async (t) => {
  const state = sourceState();
  const c = chain([producer(1e9, state), passThrough()]);
  c.write(1);
  await turns();
  t.equal(state.finished, false);
  c.destroy();
  await turns();
  t.equal(state.finished, true);
});

t.test("chain() runs an async generator stage's finally when the chain is destroyed", async (t) => {
  let finished = false;
  const c = chain([
    async function* (n: number, { signal }: StageContext) {
      try {
        yield n;
        await sleep(60_000, undefined, { signal });
        yield n;
      } finally {
        finished = true;
      }
    },
    (n: number) => n,
  ]);
  c.resume();
  c.write(1);
  await turns();
  c.destroy();
  await turns();
  t.equal(finished, true);
});

t.test('chain() destroys every inner stream and aborts the signals of functions when destroyed', async (t) => {
  const check = leakCheck();
  const a = check.track(passThrough());
  const b = check.track(passThrough());
  const signals: AbortSignal[] = [];
  const c = check.track(
    chain([
      (n: number, { signal }: StageContext) => {
        signals.push(signal);
        return n;
      },
      a,
      (n: number) => n,
      b,
    ]),
  );
  c.write(1);
  await turns();
  c.destroy();
  await check.verify();
  t.equal(signals.length, 1);
  t.equal(signals[0]?.aborted, true);
});

t.test('chain() pauses a generator yielding 1e6 items per input while downstream is full', async (t) => {
  const state = sourceState();
  const c = chain([producer(1e6, state), (n: number) => n], { highWaterMark: 8 });
  c.write(1);
  await turns(10);
  t.ok(state.produced <= 9, `produced ${state.produced} items with nobody reading`);
  for (let i = 0; i < 5; i++) c.read();
  await turns(10);
  t.ok(state.produced <= 9 + 5, `produced ${state.produced} items after 5 reads`);
  c.destroy();
});

t.test('chain() pauses a generator yielding 1e6 items per input when streams follow it', async (t) => {
  const state = sourceState();
  const c = chain([producer(1e6, state), passThrough(4), (n: number) => n], { highWaterMark: 4 });
  c.write(1);
  await turns(10);
  // The engine's 4 + the PassThrough's 4 + 4 on each side of the last hop and of the whole chain.
  t.ok(state.produced <= 40, `produced ${state.produced} items with nobody reading`);
  c.destroy();
});

t.test('chain() pauses many() with 1e6 values while downstream is full', async (t) => {
  const state = sourceState();
  const c = chain([() => many(producer(1e6, state)()), (n: number) => n], { highWaterMark: 4 });
  c.write(1);
  await turns(10);
  t.ok(state.produced <= 5, `produced ${state.produced} items with nobody reading`);
  c.destroy();
});

t.test('chain() keeps items in flight bounded between a fast producer and a slow consumer', async (t) => {
  const state = sourceState();
  let maxInFlight = 0;
  const sink = slowSink<number>({ onItem: () => (maxInFlight = Math.max(maxInFlight, state.produced - sink.items.length)) });
  const c = chain([(n: number) => n, async (n: number) => n, passThrough(), (n: number) => n]);
  await pipeline(counted(2000, state), c, sink);
  t.equal(sink.items.length, 2000);
  // Bounded by the buffers of the four streams involved (the whole, two engines and the PassThrough,
  // 16 items on each side: 128) plus a few in hand, nowhere near the 2000 produced.
  t.ok(maxInFlight <= 160, `at most ${maxInFlight} items in flight`);
});

t.test('chain() honours highWaterMark on both sides of a chain with streams', async (t) => {
  const c = chain([(n: number) => n, passThrough(2)], { highWaterMark: 2 });
  t.equal(c.readableHighWaterMark, 2);
  t.equal(c.writableHighWaterMark, 2);
  let accepted = 0;
  while (c.write(accepted)) accepted++;
  // What the whole holds before write() says stop is bounded by the sides of its parts (2 each here), not 16.
  t.ok(accepted <= 12, `write() returned false after ${accepted} items`);
  c.destroy();
});

t.test('chain() is destroyed with signal.reason when options.signal aborts', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const inner = check.track(passThrough());
  const c = check.track(chain([(n: number) => n, inner, (n: number) => n], { signal: controller.signal }));
  const reason = new Error('stop');
  const run = pipeline(endless(), c, drain);
  setTimeout(() => controller.abort(reason), 5);
  t.equal(await rejection(run), reason);
  await check.verify();
});

t.test('chain() of a single stream is destroyed with signal.reason when options.signal aborts', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const c = check.track(chain([passThrough()], { signal: controller.signal }));
  const run = pipeline(endless(), c, drain);
  setTimeout(() => controller.abort('why'), 5);
  t.equal(await rejection(run), 'why');
  await check.verify();
});

t.test('chain() aborts the signal of an in-flight function when options.signal aborts', async (t) => {
  const controller = new AbortController();
  const started = deferred();
  let seen: AbortSignal | undefined;
  const c = chain(
    [
      async (n: number, { signal }: StageContext) => {
        seen = signal;
        started.resolve();
        return sleep(60_000, n, { signal });
      },
      passThrough(),
    ],
    { signal: controller.signal },
  );
  const run = pipeline([1], c, drain);
  await started.promise;
  const reason = new Error('stop');
  controller.abort(reason);
  t.equal(await rejection(run), reason);
  t.equal(seen?.aborted, true);
});

t.test('chain() destroyed with an error after its inner streams have taken every item closes quietly', async (t) => {
  // The inner pipeline has settled (the last inner stream took every item) while that stream still
  // holds items nobody read: destroying the chain must not emit an unhandled 'error' from it.
  const check = leakCheck();
  const tail = check.track(passThrough(16));
  const c = check.track(chain([(n: number) => n, tail], { highWaterMark: 1 }));
  const errors: unknown[] = [];
  c.on('error', (err) => errors.push(err));
  for (let i = 0; i < 5; i++) c.write(i);
  c.end();
  await turns(10);
  t.equal(tail.writableFinished, true);
  t.ok(tail.readableLength > 0, 'the last inner stream still holds items');
  const boom = new Error('boom');
  c.destroy(boom);
  await check.verify();
  t.same(errors, [boom]);
});

t.test('chain() gives the same results where code cannot be generated from strings', async (t) => {
  // The fused fast path is generated code; under this flag the engine falls back to its loop.
  const script = [
    `import { chain, toArray } from ${JSON.stringify(new URL('../lib/index.ts', import.meta.url).href)};`,
    'const out = await toArray([1, 2, 3, 4], chain([(n) => n * 2, (n) => (n === 4 ? undefined : n), async (n) => n + 1]));',
    'console.log(JSON.stringify(out));',
  ].join('\n');
  const run = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    // The child loads lib/ through tsx: its coverage would not merge with this file's (see coverage-map.mjs).
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
  });
  t.equal(run.stderr, '');
  t.equal(run.stdout.trim(), '[3,7,9]');
});

stageContract(
  'chain()',
  (options, hooks) =>
    chain(
      [
        (n: number) => {
          hooks.visit(n);
          return n + 1;
        },
        (n) => n * 2,
      ],
      options,
    ),
  { expected: [2, 4, 6] },
);

stageContract(
  'chain() with a stream in it',
  (options, hooks) =>
    chain(
      [
        (n: number) => {
          hooks.visit(n);
          return n;
        },
        new PassThrough({ objectMode: true }),
        (n: number) => n + 1,
      ],
      options,
    ),
  { expected: [1, 2, 3] },
);
