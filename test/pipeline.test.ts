import t from 'tap';
import { getEventListeners } from 'node:events';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError, TimeoutError } from '../lib/errors.js';
import { chain } from '../lib/chain.js';
import { map } from '../lib/map.js';
import { parallel } from '../lib/parallel.js';
import { pipeline } from '../lib/pipeline.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { deferred, drain, endless, rejection, sourceState, thrown, turns } from './fixtures/helpers.js';

const passThrough = (): PassThrough => new PassThrough({ objectMode: true });
const collect = (into: unknown[]) => async (source: AsyncIterable<unknown>): Promise<void> => {
  for await (const item of source) into.push(item);
};

t.test('pipeline() resolves when the last stage has finished', async (t) => {
  const out: unknown[] = [];
  await pipeline([1, 2, 3], map((n: number) => n * 2), passThrough(), collect(out));
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
  await pipeline([1, 2], async function* (source: AsyncIterable<unknown>) {
    for await (const n of source) yield (n as number) + 1;
  }, map((n: number) => n * 10), collect(out));
  t.same(out, [20, 30]);
});

t.test('pipeline() ends with a Writable', async (t) => {
  const got: unknown[] = [];
  await pipeline([1, 2], new Writable({
    objectMode: true,
    write(chunk, _encoding, callback) {
      got.push(chunk);
      callback();
    },
  }));
  t.same(got, [1, 2]);
});

t.test('pipeline() rejects with the very error of a failing stage and destroys every stage', async (t) => {
  const check = leakCheck();
  const boom = new Error('boom');
  const stages = [
    check.track(Readable.from(endless())),
    check.track(map((n: number) => n)),
    check.track(passThrough()),
    check.track(map((n: number, { index }) => {
      if (index === 100) throw boom;
      return n;
    })),
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
  t.equal(await rejection(pipeline(source, passThrough(), map((n: number) => n), passThrough(), drain)), boom);
});

t.test('pipeline() rejects with the very error of the last stage, not an AbortError', async (t) => {
  const check = leakCheck();
  const boom = new Error('sink failed');
  const state = sourceState();
  const err = await rejection(pipeline([1], map(function* () {
    try {
      for (;;) yield state.produced++;
    } finally {
      state.finished = true;
    }
  }), passThrough(), async (source: AsyncIterable<unknown>) => {
    for await (const _ of source) throw boom;
  }));
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
  t.equal(await rejection(pipeline([1, 2, 3], noisy, map((n: number) => {
    if (n === 2) throw first;
    return n;
  }), drain)), first);
});

t.test('pipeline() rejects with the very error a Transform passes to its callback', async (t) => {
  const boom = new Error('boom');
  const failing = new Transform({
    objectMode: true,
    transform(_chunk, _encoding, callback) {
      callback(boom);
    },
  });
  t.equal(await rejection(pipeline([1], map((n: number) => n), failing, passThrough(), drain)), boom);
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
  const run = pipeline(endless(), map((n: number) => n), drain, { signal: controller.signal });
  setTimeout(() => controller.abort('just a string'), 5);
  t.equal(await rejection(run), 'just a string');
});

t.test('pipeline() rejects with the reason of an already-aborted signal and runs no stage function', async (t) => {
  const reason = new Error('too late');
  const signal = AbortSignal.abort(reason);
  const check = leakCheck({ signals: [signal] });
  let calls = 0;
  const stage = check.track(map((n: number) => {
    calls++;
    return n;
  }));
  t.equal(await rejection(pipeline([1, 2], stage, drain, { signal })), reason);
  t.equal(calls, 0);
  await check.verify();
});

t.test('pipeline() aborts the signals of in-flight calls when the signal aborts', async (t) => {
  const controller = new AbortController();
  const started = deferred();
  const seen: AbortSignal[] = [];
  const run = pipeline([1, 2, 3], parallel(async (n: number, { signal }) => {
    seen.push(signal);
    if (seen.length === 3) started.resolve();
    return sleep(60_000, n, { signal });
  }, { concurrency: 3 }), drain, { signal: controller.signal });
  await started.promise;
  controller.abort('stop');
  t.equal(await rejection(run), 'stop');
  t.same(seen.map((s) => s.aborted), [true, true, true]);
});

t.test('pipeline() rejects with a TimeoutError when the timeout runs out', async (t) => {
  const err = await rejection(pipeline([1, 2], map(async (n: number, { signal }) => sleep(60_000, n, { signal })), drain, { timeout: 20 }));
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
  await pipeline([1, 2, 3], map((n: number) => n), drain, { signal: controller.signal, timeout: 60_000 });
  t.equal(getEventListeners(controller.signal, 'abort').length, 0);
  await check.verify();
});

t.test('pipeline() leaves no listener on the signal after an error', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const boom = new Error('boom');
  t.equal(await rejection(pipeline([1], map(() => {
    throw boom;
  }), drain, { signal: controller.signal, timeout: 60_000 })), boom);
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
  t.equal(await rejection(pipeline([1], slowToClose, map(() => {
    throw boom;
  }), drain)), boom);
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

t.test('pipeline() refuses a timeout that is not a finite number > 0', async (t) => {
  const zero = thrown(() => pipeline([1], drain, { timeout: 0 }));
  t.ok(zero instanceof RangeError);
  t.match((zero as Error).message, /^pipeline\(\): options.timeout must be a finite number > 0, got 0 \(number\)$/);
  const text = thrown(() => pipeline([1], drain, { timeout: '5' as never }));
  t.ok(text instanceof TypeError);
  t.match((text as Error).message, /options.timeout must be a finite number > 0, got "5" \(string\)/);
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
