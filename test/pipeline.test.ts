import t, { type Test } from 'tap';
import { getEventListeners } from 'node:events';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { LineError, SluiceError, TimeoutError } from '../lib/errors.js';
import { chain } from '../lib/chain.js';
import { filter } from '../lib/filter.js';
import { flatMap } from '../lib/flat-map.js';
import { map } from '../lib/map.js';
import { parallel } from '../lib/parallel.js';
import { pipeline } from '../lib/pipeline.js';
import { split } from '../lib/split.js';
import { toArray } from '../lib/to-array.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { deferred, drain, endless, rejection, sourceState, thrown, turns } from './fixtures/helpers.js';
import { within } from './fixtures/settle.js';

const passThrough = (): PassThrough => new PassThrough({ objectMode: true });
const collect =
  (into: unknown[]) =>
  async (source: AsyncIterable<unknown>): Promise<void> => {
    for await (const item of source) into.push(item);
  };

t.test('pipeline() resolves when the last stage has finished', async (t) => {
  const out: unknown[] = [];
  await pipeline(
    [1, 2, 3],
    map((n: number) => n * 2),
    passThrough(),
    collect(out),
  );
  t.same(out, [2, 4, 6]);
});

t.test('pipeline() takes a Readable, an async iterable and an async generator function as source', async (t) => {
  const fromReadable: unknown[] = [];
  await pipeline(Readable.from(['a']), collect(fromReadable));
  const fromAsync: unknown[] = [];
  await pipeline(endlessUpTo(3), collect(fromAsync));
  const fromFunction: unknown[] = [];
  await pipeline(async function* () {
    yield 'x';
  }, collect(fromFunction));
  t.same([fromReadable, fromAsync, fromFunction], [['a'], [0, 1, 2], ['x']]);
});

async function* endlessUpTo(n: number): AsyncGenerator<number> {
  for await (const i of endless()) {
    if (i >= n) return;
    yield i;
  }
}

t.test('pipeline() takes async generator functions between streams', async (t) => {
  const out: unknown[] = [];
  await pipeline(
    [1, 2],
    async function* (source: AsyncIterable<unknown>) {
      for await (const n of source) yield (n as number) + 1;
    },
    map((n: number) => n * 10),
    collect(out),
  );
  t.same(out, [20, 30]);
});

t.test('pipeline() ends with a Writable', async (t) => {
  const got: unknown[] = [];
  await pipeline(
    [1, 2],
    new Writable({
      objectMode: true,
      write(chunk, _encoding, callback) {
        got.push(chunk);
        callback();
      },
    }),
  );
  t.same(got, [1, 2]);
});

t.test('pipeline() rejects with the very error of a failing stage and destroys every stage', async (t) => {
  const check = leakCheck();
  const boom = new Error('boom');
  const stages = [
    check.track(Readable.from(endless())),
    check.track(map((n: number) => n)),
    check.track(passThrough()),
    check.track(
      map((n: number, { index }) => {
        if (index === 100) throw boom;
        return n;
      }),
    ),
    check.track(chain([(n: number) => n, passThrough()])),
    check.track(new Writable({ objectMode: true, write: (_chunk, _encoding, callback) => callback() })),
  ] as const;
  t.equal(await rejection(pipeline(...stages)), boom);
  for (const stage of stages) t.ok(stage.destroyed && stage.closed, `${stage.constructor.name} destroyed and closed`);
  await check.verify();
});

t.test('pipeline() rejects with the very error of the first stage, not a premature close', async (t) => {
  const boom = new Error('source failed');
  const source = new Readable({
    objectMode: true,
    read() {
      this.destroy(boom);
    },
  });
  t.equal(
    await rejection(
      pipeline(
        source,
        passThrough(),
        map((n: number) => n),
        passThrough(),
        drain,
      ),
    ),
    boom,
  );
});

t.test('pipeline() rejects with the very error of the last stage, not an AbortError', async (t) => {
  const check = leakCheck();
  const boom = new Error('sink failed');
  const state = sourceState();
  const err = await rejection(
    pipeline(
      [1],
      map(function* () {
        try {
          for (;;) yield state.produced++;
        } finally {
          state.finished = true;
        }
      }),
      passThrough(),
      async (source: AsyncIterable<unknown>) => {
        for await (const _ of source) throw boom;
      },
    ),
  );
  t.equal(err, boom);
  t.equal(state.finished, true);
  await check.verify();
});

t.test('pipeline() rejects with the first error when a second one follows in teardown', async (t) => {
  const first = new Error('first');
  const second = new Error('second');
  const noisy = new PassThrough({
    objectMode: true,
    destroy(_error, callback) {
      callback(second);
    },
  });
  t.equal(
    await rejection(
      pipeline(
        [1, 2, 3],
        noisy,
        map((n: number) => {
          if (n === 2) throw first;
          return n;
        }),
        drain,
      ),
    ),
    first,
  );
});

t.test('pipeline() rejects with the very error a Transform passes to its callback', async (t) => {
  const boom = new Error('boom');
  const failing = new Transform({
    objectMode: true,
    transform(_chunk, _encoding, callback) {
      callback(boom);
    },
  });
  t.equal(
    await rejection(
      pipeline(
        [1],
        map((n: number) => n),
        failing,
        passThrough(),
        drain,
      ),
    ),
    boom,
  );
});

t.test('pipeline() rejects with signal.reason, unchanged, when the signal aborts', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const reason = new Error('user abort');
  const stages = [check.track(map((n: number) => n)), check.track(passThrough())] as const;
  const run = pipeline(endless(), ...stages, drain, { signal: controller.signal });
  setTimeout(() => controller.abort(reason), 5);
  t.equal(await rejection(run), reason);
  await check.verify();
});

t.test('pipeline() rejects with a non-Error abort reason unchanged', async (t) => {
  const controller = new AbortController();
  const run = pipeline(
    endless(),
    map((n: number) => n),
    drain,
    { signal: controller.signal },
  );
  setTimeout(() => controller.abort('just a string'), 5);
  t.equal(await rejection(run), 'just a string');
});

t.test('pipeline() rejects with the reason of an already-aborted signal and runs no stage function', async (t) => {
  const reason = new Error('too late');
  const signal = AbortSignal.abort(reason);
  const check = leakCheck({ signals: [signal] });
  let calls = 0;
  const stage = check.track(
    map((n: number) => {
      calls++;
      return n;
    }),
  );
  t.equal(await rejection(pipeline([1, 2], stage, drain, { signal })), reason);
  t.equal(calls, 0);
  await check.verify();
});

t.test('pipeline() aborts the signals of in-flight calls when the signal aborts', async (t) => {
  const controller = new AbortController();
  const started = deferred();
  const seen: AbortSignal[] = [];
  const run = pipeline(
    [1, 2, 3],
    parallel(
      async (n: number, { signal }) => {
        seen.push(signal);
        if (seen.length === 3) started.resolve();
        return sleep(60_000, n, { signal });
      },
      { concurrency: 3 },
    ),
    drain,
    { signal: controller.signal },
  );
  await started.promise;
  controller.abort('stop');
  t.equal(await rejection(run), 'stop');
  t.same(
    seen.map((s) => s.aborted),
    [true, true, true],
  );
});

t.test('pipeline() rejects with a TimeoutError when the timeout runs out', async (t) => {
  const err = await rejection(
    pipeline(
      [1, 2],
      map(async (n: number, { signal }) => sleep(60_000, n, { signal })),
      drain,
      { timeout: 20 },
    ),
  );
  t.ok(err instanceof TimeoutError);
  t.ok(err instanceof SluiceError);
  t.equal((err as TimeoutError).code, 'ERR_SLUICE_TIMEOUT');
  t.equal((err as TimeoutError).timeout, 20);
  t.match((err as Error).message, /^pipeline\(\) timed out after 20 ms$/);
});

t.test('pipeline() leaves no timer, listener or open stream after a timeout', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const stages = [check.track(map(async (n: number, { signal }) => sleep(60_000, n, { signal }))), check.track(passThrough())] as const;
  const err = await rejection(pipeline(endless(), ...stages, drain, { timeout: 10, signal: controller.signal }));
  t.ok(err instanceof TimeoutError);
  t.equal(getEventListeners(controller.signal, 'abort').length, 0);
  await check.verify();
});

t.test('pipeline() leaves no timer or listener after it resolves', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  await pipeline(
    [1, 2, 3],
    map((n: number) => n),
    drain,
    { signal: controller.signal, timeout: 60_000 },
  );
  t.equal(getEventListeners(controller.signal, 'abort').length, 0);
  await check.verify();
});

t.test('pipeline() leaves no listener on the signal after an error', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const boom = new Error('boom');
  t.equal(
    await rejection(
      pipeline(
        [1],
        map(() => {
          throw boom;
        }),
        drain,
        { signal: controller.signal, timeout: 60_000 },
      ),
    ),
    boom,
  );
  t.equal(getEventListeners(controller.signal, 'abort').length, 0);
  await check.verify();
});

t.test('pipeline() settles only once every stage has closed', async (t) => {
  const boom = new Error('boom');
  let closed = false;
  const slowToClose = new PassThrough({
    objectMode: true,
    destroy(error, callback) {
      setTimeout(() => {
        closed = true;
        callback(error);
      }, 20);
    },
  });
  t.equal(
    await rejection(
      pipeline(
        [1],
        slowToClose,
        map(() => {
          throw boom;
        }),
        drain,
      ),
    ),
    boom,
  );
  t.equal(closed, true);
});

t.test('pipeline() throws a TypeError for fewer than two stages', async (t) => {
  const one = thrown(() => (pipeline as (...args: unknown[]) => Promise<void>)([1]));
  t.ok(one instanceof TypeError);
  t.match((one as Error).message, /^pipeline\(\): needs at least two stages, got 1$/);
  const withOptions = thrown(() => (pipeline as (...args: unknown[]) => Promise<void>)([1], { timeout: 10 }));
  t.ok(withOptions instanceof TypeError);
  t.match((withOptions as Error).message, /^pipeline\(\): needs at least two stages, got 1$/);
});

t.test('pipeline() refuses a timeout that is not a number of milliseconds setTimeout can keep', async (t) => {
  const zero = thrown(() => pipeline([1], drain, { timeout: 0 }));
  t.ok(zero instanceof RangeError);
  t.match((zero as Error).message, /^pipeline\(\): options.timeout must be a number of milliseconds > 0 and <= 2147483647, got 0 \(number\)$/);
  const text = thrown(() => pipeline([1], drain, { timeout: '5' as never }));
  t.ok(text instanceof TypeError);
  t.match((text as Error).message, /options.timeout must be a number of milliseconds > 0 and <= 2147483647, got "5" \(string\)/);
});

t.test('pipeline() refuses a timeout of 2^31 ms or more, which setTimeout would fire after 1 ms', async (t) => {
  for (const timeout of [2 ** 31, 2 ** 40, Infinity]) {
    const err = thrown(() => pipeline([1], drain, { timeout }));
    t.ok(err instanceof RangeError);
    t.match((err as Error).message, /^pipeline\(\): options.timeout must be a number of milliseconds > 0 and <= 2147483647, got /);
  }
  t.equal(thrown(() => pipeline([1], drain, { timeout: NaN })) instanceof RangeError, true);
});

t.test('pipeline() refuses a signal that is not an AbortSignal', async (t) => {
  const err = thrown(() => pipeline([1], drain, { signal: new AbortController() as never }));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^pipeline\(\): options.signal must be an AbortSignal, got AbortController \(object\)$/);
});

t.test('pipeline() runs nothing after a validation error', async (t) => {
  let calls = 0;
  const stage = map((n: number) => {
    calls++;
    return n;
  });
  thrown(() => pipeline([1], stage, drain, { timeout: -1 }));
  await turns();
  t.equal(calls, 0);
  stage.destroy();
});

// Every falsy value a function can throw: Node's stream machinery reads each one as "no error".
const FALSY: readonly unknown[] = [undefined, null, 0, '', false, NaN, 0n];
const show = (value: unknown): string => (typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value) : String(value));
/** Runs `run` once per falsy value and checks that it rejects with that very value. */
async function rejectsWithEachFalsy(t: Test, what: string, run: (value: unknown) => Promise<unknown>): Promise<void> {
  for (const value of FALSY) {
    const err = await rejection(within(run(value), what));
    t.ok(Object.is(err, value), `${what} rejected with ${show(err)} for a thrown ${show(value)}`);
  }
}

t.test('pipeline() rejects with the very falsy value a source throws', async (t) => {
  const sources: [string, (value: unknown) => unknown][] = [
    [
      'a sync generator',
      (value) =>
        (function* () {
          yield 1;
          throw value;
        })(),
    ],
    [
      'an async generator',
      (value) =>
        (async function* () {
          yield 1;
          throw value;
        })(),
    ],
    [
      'a sync generator function',
      (value) =>
        function* () {
          yield 1;
          throw value;
        },
    ],
    [
      'an async generator function',
      (value) =>
        async function* () {
          yield 1;
          throw value;
        },
    ],
  ];
  for (const [what, source] of sources) {
    await rejectsWithEachFalsy(t, what, (value) =>
      pipeline(
        source(value) as Iterable<unknown>,
        map((n: number) => n),
        drain,
      ),
    );
  }
});

t.test('pipeline() rejects with the very falsy value a function stage or the sink throws', async (t) => {
  await rejectsWithEachFalsy(t, 'a function stage', (value) =>
    pipeline(
      [1, 2],
      async function* (source: AsyncIterable<unknown>) {
        for await (const n of source) {
          if (n === 2) throw value;
          yield n;
        }
      },
      map((n: number) => n),
      drain,
    ),
  );
  await rejectsWithEachFalsy(t, 'the sink', (value) =>
    pipeline(
      [1, 2],
      map((n: number) => n),
      async (source: AsyncIterable<unknown>) => {
        for await (const n of source) if (n === 2) throw value;
      },
    ),
  );
  await rejectsWithEachFalsy(t, 'a sink throwing at once', (value) =>
    pipeline(
      [1, 2],
      map((n: number) => n),
      () => {
        throw value;
      },
    ),
  );
  await rejectsWithEachFalsy(t, 'a source function throwing at once', (value) =>
    pipeline(
      () => {
        throw value;
      },
      map((n: number) => n),
      drain,
    ),
  );
});

t.test('pipeline() awaits the promises a sync generator source yields, as for await does', async (t) => {
  const out: unknown[] = [];
  await pipeline(
    function* () {
      yield Promise.resolve(1);
      yield 2;
    },
    map((n: number) => n * 10),
    async (source: AsyncIterable<unknown>) => {
      for await (const n of source) out.push(n);
    },
  );
  t.same(out, [10, 20]);
  const boom = new Error('boom');
  t.equal(
    await rejection(
      pipeline(
        function* () {
          yield Promise.reject(boom);
        },
        map((n: number) => n),
        drain,
      ),
    ),
    boom,
  );
});

t.test('pipeline() rejects with the very falsy value map(), filter(), flatMap(), chain() or parallel() throws', async (t) => {
  const failAt2 =
    (value: unknown) =>
    (n: number): number => {
      if (n === 2) throw value;
      return n;
    };
  const stages: [string, (fn: (n: number) => number) => NodeJS.ReadWriteStream][] = [
    ['map()', (fn) => map(fn)],
    ['map() async', (fn) => map(async (n: number) => fn(n))],
    ['filter()', (fn) => filter((n: number) => fn(n) >= 0)],
    ['flatMap()', (fn) => flatMap((n: number) => [fn(n)])],
    [
      'flatMap() of a generator',
      (fn) =>
        flatMap(function* (n: number) {
          yield fn(n);
        }),
    ],
    ['chain() of functions', (fn) => chain([(n: number) => n, fn])],
    ['chain() around a stream', (fn) => chain([new PassThrough({ objectMode: true }), async (n: number) => fn(n)])],
    ['chain() with concurrency', (fn) => chain([async (n: number) => fn(n)], { concurrency: 3 })],
    ['parallel()', (fn) => parallel(async (n: number) => fn(n))],
    ['parallel() unordered', (fn) => parallel((n: number) => fn(n), { ordered: false, concurrency: 2 })],
  ];
  for (const [what, make] of stages) {
    await rejectsWithEachFalsy(t, what, (value) => toArray([1, 2, 3], make(failAt2(value))));
  }
});

t.test("pipeline() rejects with a LineError whose cause is the falsy value split()'s map throws", async (t) => {
  for (const value of FALSY) {
    const err = await rejection(
      within(
        toArray(
          ['a\nb\n'],
          split({
            map: (line) => {
              if (line === 'b') throw value;
              return line;
            },
          }),
        ),
        'split()',
      ),
    );
    t.ok(err instanceof LineError, `a LineError for a thrown ${show(value)}`);
    t.equal((err as LineError).code, 'ERR_SLUICE_LINE');
    t.equal((err as LineError).line, 2);
    t.ok(Object.is((err as LineError).cause, value), `its cause is ${show(value)}`);
  }
});

t.test('pipeline() refuses a stage that is neither a stream nor a function, naming it', async (t) => {
  const run = pipeline as (...args: unknown[]) => Promise<void>;
  const text = thrown(() => run([1], 'x'));
  t.ok(text instanceof TypeError);
  t.equal((text as Error).message, 'pipeline(): stages[1] must be a stream or a function, got "x" (string)');
  const last = thrown(() =>
    run(
      [1],
      map((n: number) => n),
      5,
    ),
  );
  t.ok(last instanceof TypeError);
  t.equal((last as Error).message, 'pipeline(): stages[2] must be a stream or a function, got 5 (number)');
  const nothing = thrown(() => run([1], null));
  t.equal((nothing as Error).message, 'pipeline(): stages[1] must be a stream or a function, got null');
});

t.test('pipeline() refuses a source that is not a stream, an iterable or a function, naming it', async (t) => {
  const err = thrown(() => pipeline(5 as never, drain));
  t.ok(err instanceof TypeError);
  t.equal((err as Error).message, 'pipeline(): stages[0] must be a stream, an iterable, an async iterable or a function, got 5 (number)');
});

t.test('pipeline() refuses a Readable after the first stage', async (t) => {
  const readable = Readable.from([1]);
  const err = thrown(() => pipeline([1], readable as never, drain));
  t.ok(err instanceof TypeError);
  t.equal((err as Error).message, 'pipeline(): stages[1] is a Readable; only the first stage may be one');
  readable.destroy();
});

t.test('pipeline() refuses a stage that has already finished, naming it', async (t) => {
  const m = map((n: number) => n);
  t.same(await toArray([1, 2], m), [1, 2]);
  const err = thrown(() => pipeline([3], m, drain));
  t.ok(err instanceof TypeError);
  t.equal((err as Error).message, 'pipeline(): stages[1] (Engine) has already finished; a stage runs only once');
  const again = await rejection(within(toArray([3], m), 'toArray()'));
  t.ok(again instanceof TypeError);
  const sink = new Writable({ objectMode: true, write: (_n, _encoding, callback) => callback() });
  await pipeline([1], sink);
  t.match((thrown(() => pipeline([1], sink)) as Error).message, /^pipeline\(\): stages\[1\] \(Writable\) has already finished/);
});

t.test('pipeline() refuses a stage destroyed without an error, naming it', async (t) => {
  const p = new PassThrough({ objectMode: true });
  p.destroy();
  const err = thrown(() =>
    pipeline(
      [1],
      map((n: number) => n),
      p,
      drain,
    ),
  );
  t.ok(err instanceof TypeError);
  t.equal((err as Error).message, 'pipeline(): stages[2] (PassThrough) has been destroyed; a stage runs only once');
});

t.test('pipeline() rejects with the error of a stage destroyed with one before it ran', async (t) => {
  const boom = new Error('boom');
  const m = map((n: number) => n);
  m.destroy(boom);
  t.equal(await rejection(within(pipeline([1], m, drain), 'pipeline()')), boom);
});
