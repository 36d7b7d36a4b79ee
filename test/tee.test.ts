import t, { type Test } from 'tap';
import fc from 'fast-check';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { map, pipeline, SluiceError, tee, toArray } from '../lib/index.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { abortedWith, Lead, rejection, slowDrain } from './fixtures/helpers.js';
import { within } from './fixtures/settle.js';
import { stageContract } from './fixtures/contract.js';

interface SinkOptions {
  /** Milliseconds before the i-th write is accepted (0: at once, synchronously). */
  latency?: (i: number) => number;
  highWaterMark?: number;
  /** The write with this index fails with `error`. */
  failAt?: number;
  error?: Error;
  /** Milliseconds `_final` takes. */
  finalDelay?: number;
  finalError?: Error;
}

/** An object-mode Writable that records what it receives. */
function sink(options: SinkOptions = {}): Writable & { received: unknown[] } {
  const received: unknown[] = [];
  const stream = new Writable({
    objectMode: true,
    highWaterMark: options.highWaterMark ?? 2,
    write(item: unknown, _encoding, callback) {
      const i = received.length;
      received.push(item);
      const error = i === options.failAt ? (options.error ?? new Error(`write ${i} failed`)) : null;
      const latency = options.latency?.(i) ?? 0;
      if (latency === 0) callback(error);
      else setTimeout(() => callback(error), latency);
    },
    final(callback) {
      setTimeout(() => callback(options.finalError), options.finalDelay ?? 0);
    },
  });
  return Object.assign(stream, { received });
}

/** An endless async generator, one item every `latency` ms. */
async function* endless(latency: number): AsyncGenerator<number> {
  for (let i = 0; ; i++) {
    await sleep(latency);
    yield i;
  }
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

t.test('tee() gives each destination exactly the input sequence, whatever their latencies (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.integer(), fc.string()), { maxLength: 40 }),
      fc.array(
        fc.record({
          latencies: fc.array(fc.nat({ max: 2 }), { minLength: 1, maxLength: 5 }),
          highWaterMark: fc.integer({ min: 1, max: 4 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      fc.integer({ min: 1, max: 4 }),
      fc.boolean(),
      async (input, specs, highWaterMark, passThrough) => {
        const sinks = specs.map(({ latencies, highWaterMark }) => sink({ highWaterMark, latency: (i) => latencies[i % latencies.length]! }));
        const stage = tee<string | number>(sinks, { highWaterMark, passThrough });
        const expected = JSON.stringify(input);
        if (passThrough) {
          const out = await toArray(input, stage);
          if (JSON.stringify(out) !== expected) throw new Error(`passed on ${JSON.stringify(out)}`);
        } else {
          await pipeline(input, stage);
        }
        sinks.forEach((s, i) => {
          if (JSON.stringify(s.received) !== expected) throw new Error(`destination ${i} received ${JSON.stringify(s.received)}`);
        });
      },
    ),
    { numRuns: 40 },
  );
});

t.test('tee() lets the slowest destination set the pace, keeping memory bounded', async (t) => {
  const teeHighWaterMark = 4;
  const sinkHighWaterMark = 2;
  const slow = sink({ highWaterMark: sinkHighWaterMark, latency: () => 1 });
  const fast = sink({ highWaterMark: sinkHighWaterMark });
  let written = 0;
  let ahead = 0;
  function* source(): Generator<number> {
    for (let i = 0; i < 150; i++) {
      written++;
      ahead = Math.max(ahead, written - slow.received.length);
      yield i;
    }
  }
  await pipeline(source(), tee([slow, fast], { highWaterMark: teeHighWaterMark }));
  t.same(slow.received, range(150));
  t.same(fast.received, range(150));
  // Buffered in the tee, buffered in the slow destination, and the one item being written.
  const bound = teeHighWaterMark + sinkHighWaterMark + 2;
  t.ok(ahead <= bound, `the source got at most ${bound} items ahead of the slow destination, saw ${ahead}`);
});

t.test('tee() destroys every destination when one fails and pipeline rejects with that error', async (t) => {
  const boom = new Error('boom');
  const check = leakCheck();
  const slow = check.track(sink({ latency: () => 2 }), 'slow');
  const failing = check.track(sink({ failAt: 3, error: boom }), 'failing');
  const fast = check.track(sink(), 'fast');
  const stage = check.track(tee([slow, failing, fast]), 'tee');
  const error = await pipeline(range(100), stage).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal(error, boom, 'the very error object');
  await check.verify();
  t.ok(fast.received.length < 100, 'the others stopped too');
});

t.test("tee() with onError 'detach' drops the failing destination, emits 'detach' and goes on", async (t) => {
  const boom = new Error('boom');
  const slow = sink({ latency: () => 1 });
  const failing = sink({ failAt: 3, error: boom });
  const fast = sink();
  const stage = tee([slow, failing, fast], { onError: 'detach' });
  const detached: [unknown, unknown][] = [];
  stage.on('detach', (error: unknown, index: unknown) => detached.push([error, index]));
  await pipeline(range(40), stage);
  t.same(slow.received, range(40));
  t.same(fast.received, range(40));
  t.same(failing.received, [0, 1, 2, 3]);
  t.equal(detached.length, 1);
  t.equal(detached[0]?.[0], boom);
  t.equal(detached[0]?.[1], 1);
});

t.test("tee() with onError 'detach' finishes when a destination fails while finishing", async (t) => {
  const boom = new Error('final failed');
  const failing = sink({ finalDelay: 5, finalError: boom });
  const good = sink();
  const stage = tee([failing, good], { onError: 'detach' });
  const detached: unknown[] = [];
  stage.on('detach', (error: unknown) => detached.push(error));
  await pipeline([1, 2, 3], stage);
  t.same(good.received, [1, 2, 3]);
  t.same(detached, [boom]);
});

t.test("tee() with onError 'detach' emits no 'detach' for the destinations it destroys itself", async (t) => {
  const stage = tee([sink({ latency: () => 2 }), sink()], { onError: 'detach' });
  const detached: unknown[] = [];
  stage.on('detach', (error: unknown) => detached.push(error));
  stage.on('error', () => {});
  stage.write(1);
  stage.destroy(new Error('stop'));
  await leakCheck({ streams: [stage] }).verify();
  t.same(detached, []);
});

t.test('tee() finishes only when every destination has finished', async (t) => {
  const log: string[] = [];
  const slowFinal = sink({ finalDelay: 20 }).on('finish', () => log.push('slow destination finished'));
  const quick = sink().on('finish', () => log.push('quick destination finished'));
  const stage = tee([slowFinal, quick]).on('finish', () => log.push('tee finished'));
  await pipeline([1, 2], stage);
  t.same(log, ['quick destination finished', 'slow destination finished', 'tee finished']);
});

t.test('tee() with passThrough: true passes each item on', async (t) => {
  const a = sink();
  const b = sink();
  t.same(await toArray(['x', 'y', 'z'], tee<string>([a, b], { passThrough: true })), ['x', 'y', 'z']);
  t.same(a.received, ['x', 'y', 'z']);
  t.same(b.received, ['x', 'y', 'z']);
});

t.test('tee() with passThrough: true takes backpressure from downstream too', async (t) => {
  const highWaterMark = 4;
  const lead = new Lead();
  const a = sink();
  await pipeline(lead.source(150), tee([a, sink()], { passThrough: true, highWaterMark }), async (items: AsyncIterable<unknown>) => {
    for await (const _ of items) {
      lead.took();
      await sleep(0);
    }
  });
  t.equal(lead.consumed, 150);
  t.same(a.received, range(150));
  // The readable buffer, the writable buffer, and the item being written.
  const bound = 2 * highWaterMark + 2;
  t.ok(lead.most <= bound, `the source got at most ${bound} items ahead of the consumer, saw ${lead.most}`);
});

t.test('tee() destroyed destroys every destination', async (t) => {
  const check = leakCheck();
  const destinations = [sink({ latency: () => 5 }), sink(), sink({ highWaterMark: 1, latency: () => 1 })].map((d) => check.track(d));
  const stage = check.track(tee(destinations));
  for (const i of range(10)) stage.write(i);
  await sleep(1);
  stage.destroy();
  await check.verify();
  t.ok(
    destinations.every((d) => d.received.length < 10),
    'no destination got everything',
  );
});

t.test('tee() destroyed with an error destroys every destination without an unhandled error', async (t) => {
  const reason = new Error('stop');
  const check = leakCheck();
  const destinations = [sink({ latency: () => 5 }), sink()].map((d) => check.track(d));
  const stage = check.track(tee(destinations));
  const errors: unknown[] = [];
  stage.on('error', (error: unknown) => errors.push(error));
  stage.write(1);
  stage.destroy(reason);
  await check.verify();
  t.same(errors, [reason]);
});

t.test('tee() removes its listeners from every destination once closed', async (t) => {
  const destinations = [sink(), sink({ latency: () => 1 })];
  const before = destinations.map((d) =>
    d
      .eventNames()
      .map((name) => `${String(name)}:${d.listenerCount(name)}`)
      .join(),
  );
  const stage = tee(destinations);
  await pipeline(range(20), stage);
  await leakCheck({ streams: [stage, ...destinations] }).verify();
  t.same(
    destinations.map((d) => d.listenerCount('error')),
    [0, 0],
  );
  t.same(
    destinations.map((d) => d.listenerCount('drain')),
    [0, 0],
  );
  t.same(
    destinations.map((d) => d.listenerCount('close')),
    [0, 0],
  );
  t.ok(
    before.every((b) => b === ''),
    'the destinations had no listeners to begin with',
  );
});

t.test('tee() aborted at a random moment rejects with the reason and leaves nothing behind (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 4 }),
      fc.nat({ max: 2 }),
      fc.boolean(),
      fc.option(fc.nat({ max: 15 }), { freq: 4 }),
      async (latencies, sourceLatency, passThrough, abortAfter) => {
        const controller = new AbortController();
        const reason = new Error('aborted');
        const check = leakCheck({ signals: [controller.signal] });
        const destinations = latencies.map((ms) => check.track(sink({ latency: () => ms })));
        const stage = check.track(tee(destinations, { passThrough, highWaterMark: 2 }));
        const source = check.track(Readable.from(endless(sourceLatency), { highWaterMark: 1 }));
        // null: abort before the pipeline has taken a single step.
        await abortedWith(controller, reason, abortAfter, (signal) =>
          passThrough ? pipeline(source, stage, slowDrain, { signal }) : pipeline(source, stage, { signal }),
        );
        await check.verify();
      },
    ),
    { numRuns: 30 },
  );
});

/** Checks that `err` is the ERR_SLUICE_CLOSED_EARLY of destinations[0] and says `what`. */
function closedEarly(t: Test, err: unknown, what: RegExp): void {
  t.ok(err instanceof SluiceError, 'a SluiceError');
  t.equal((err as SluiceError).code, 'ERR_SLUICE_CLOSED_EARLY');
  t.match((err as Error).message, what);
}

t.test('tee() fails at once with ERR_SLUICE_CLOSED_EARLY when a destination was destroyed before it started', async (t) => {
  const closed = sink();
  closed.destroy();
  await once(closed, 'close');
  const check = leakCheck();
  const stage = check.track(tee([sink(), closed]));
  closedEarly(t, await rejection(within(pipeline([1, 2], stage), 'pipeline()')), /^tee\(\): destinations\[1\] was destroyed before the tee started$/);
  // Destroyed, but its 'close' is still to come.
  const closing = sink();
  closing.destroy();
  closedEarly(t, await rejection(within(pipeline([1, 2], tee([closing])), 'pipeline()')), /^tee\(\): destinations\[0\] closed before it finished$/);
  await check.verify();
});

t.test('tee() fails at once with ERR_SLUICE_CLOSED_EARLY when a destination had already finished', async (t) => {
  const finished = sink();
  finished.end();
  await once(finished, 'close');
  closedEarly(
    t,
    await rejection(within(pipeline([1], tee([finished])), 'pipeline()')),
    /^tee\(\): destinations\[0\] had already ended before the tee started$/,
  );
  const kept = new Writable({ objectMode: true, autoDestroy: false, write: (_item, _encoding, callback) => callback() });
  kept.end();
  await once(kept, 'finish');
  closedEarly(t, await rejection(within(pipeline([1], tee([kept])), 'pipeline()')), /had already ended/);
  const ending = sink({ finalDelay: 5 });
  ending.end();
  closedEarly(t, await rejection(within(pipeline([1], tee([ending])), 'pipeline()')), /had already ended/);
});

t.test('tee() fails with the error a destination was destroyed with before it started', async (t) => {
  const boom = new Error('boom');
  const failed = sink();
  const closed = new Promise((resolve) => failed.on('error', () => {}).on('close', resolve));
  failed.destroy(boom);
  await closed;
  t.equal(await rejection(within(pipeline([1], tee([failed])), 'pipeline()')), boom);
});

t.test("tee() with onError 'detach' drops a destination that had already finished and goes on", async (t) => {
  const finished = sink();
  finished.end();
  await once(finished, 'close');
  const live = sink();
  const stage = tee([finished, live], { onError: 'detach' });
  const detached: [unknown, unknown][] = [];
  stage.on('detach', (error: unknown, index: unknown) => detached.push([error, index]));
  await within(pipeline([1, 2, 3], stage), 'pipeline()');
  t.same(live.received, [1, 2, 3]);
  t.equal(detached.length, 1);
  closedEarly(t, detached[0]?.[0], /destinations\[0\] had already ended/);
  t.equal(detached[0]?.[1], 0);
});

t.test('tee() rejects with the very falsy value a destination fails with', async (t) => {
  for (const value of [undefined, null, 0, '', false]) {
    const failing = map((n: number) => {
      if (n === 2) throw value;
      return n;
    });
    failing.resume();
    const err = await rejection(within(toArray([1, 2, 3], tee([sink(), failing], { passThrough: true })), 'toArray()'));
    t.ok(Object.is(err, value), `rejected with ${String(err)} for ${String(value)} thrown in a map() destination`);
  }
});

t.test('tee() refuses what is not a list of Writables, naming it', async (t) => {
  t.throws(() => tee('ab' as never), { name: 'TypeError', message: 'tee(): destinations must be an array, got "ab" (string)' });
  t.throws(() => tee([sink(), {} as never]), { name: 'TypeError', message: 'tee(): destinations[1] must be a Writable, got Object (object)' });
  t.throws(() => tee([Readable.from([]) as never]), { name: 'TypeError', message: /^tee\(\): destinations\[0\] must be a Writable/ });
  t.throws(() => tee([null as never]), { name: 'TypeError', message: 'tee(): destinations[0] must be a Writable, got null' });
});

t.test('tee() refuses bad options, naming them', async (t) => {
  t.throws(() => tee([], { onError: 'skip' as never }), {
    name: 'TypeError',
    message: 'tee(): options.onError must be one of "fail", "detach", got "skip" (string)',
  });
  t.throws(() => tee([], { passThrough: 'yes' as never }), {
    name: 'TypeError',
    message: 'tee(): options.passThrough must be a boolean, got "yes" (string)',
  });
  t.throws(() => tee([], { highWaterMark: 1.5 }), {
    name: 'RangeError',
    message: 'tee(): options.highWaterMark must be an integer >= 0, got 1.5 (number)',
  });
});

stageContract('tee()', (options) => tee([new Writable({ objectMode: true, write: (_item, _encoding, callback) => callback() })], options), {
  kind: 'sink',
  userFunction: false,
});
