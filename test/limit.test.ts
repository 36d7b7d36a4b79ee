import t from 'tap';
import fc from 'fast-check';
import { limit } from '../lib/limit.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const ticks = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

t.test('limit() refuses a concurrency that is not an integer >= 1 or Infinity', async (t) => {
  t.throws(() => limit(0), new RangeError('limit(): concurrency must be an integer >= 1 or Infinity, got 0 (number)'));
  t.throws(() => limit(2.5), RangeError);
  t.throws(() => limit(NaN), RangeError);
  t.throws(() => limit(undefined as never), TypeError);
});

t.test('limit() never runs more than concurrency at once (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(fc.nat(6), { maxLength: 30 }), async (concurrency, works) => {
      const run = limit(concurrency);
      let running = 0;
      let most = 0;
      const results = await Promise.all(
        works.map((work, i) =>
          run(async () => {
            most = Math.max(most, ++running);
            // activeCount also counts calls that ended their body but have not yet given their place back.
            if (run.activeCount < running || run.activeCount > concurrency) {
              throw new Error(`activeCount ${run.activeCount}, running ${running}`);
            }
            await ticks(work);
            running--;
            return i;
          }),
        ),
      );
      if (most > concurrency) throw new Error(`${most} running with concurrency ${concurrency}`);
      if (works.length > 0 && most !== Math.min(concurrency, works.length)) throw new Error(`only ${most} ran at once`);
      if (results.join() !== works.map((_, i) => i).join()) throw new Error('results out of order');
      if (run.activeCount !== 0 || run.pendingCount !== 0) throw new Error('counts not back to 0');
    }),
  );
});

t.test('limit() reports activeCount and pendingCount', async (t) => {
  const run = limit(2);
  const gates = [deferred(), deferred(), deferred()];
  const all = gates.map((g) => run(() => g.promise));
  t.equal(run.activeCount, 2);
  t.equal(run.pendingCount, 1);
  gates[0]?.resolve();
  await ticks(5);
  t.equal(run.activeCount, 2);
  t.equal(run.pendingCount, 0);
  gates[1]?.resolve();
  gates[2]?.resolve();
  await Promise.all(all);
  t.equal(run.activeCount, 0);
  t.equal(run.pendingCount, 0);
});

t.test('limit() rejects with the error fn threw, unchanged, and goes on with the rest', async (t) => {
  const run = limit(1);
  const boom = new Error('boom');
  const sync = { reason: 'thrown synchronously' };
  const results = await Promise.allSettled([
    run(() => Promise.reject(boom)),
    run(() => {
      throw sync;
    }),
    run(() => 'fine'),
  ]);
  t.same(
    results.map((r) => r.status),
    ['rejected', 'rejected', 'fulfilled'],
  );
  t.equal((results[0] as PromiseRejectedResult).reason, boom);
  t.equal((results[1] as PromiseRejectedResult).reason, sync);
  t.equal((results[2] as PromiseFulfilledResult<string>).value, 'fine');
  t.equal(run.activeCount, 0);
});

t.test('limit() accepts plain values and thenables', async (t) => {
  const run = limit(1);
  t.equal(await run(() => 42), 42);
  // biome-ignore lint/suspicious/noThenProperty: a thenable is what this test is about.
  const thenable = { then: (resolve: (v: string) => void) => resolve('thenable') } as PromiseLike<string>;
  t.equal(await run(() => thenable), 'thenable');
});

t.test('limit() with Infinity runs everything at once', async (t) => {
  const run = limit(Infinity);
  const gate = deferred();
  const all = Array.from({ length: 50 }, () => run(() => gate.promise));
  t.equal(run.activeCount, 50);
  t.equal(run.pendingCount, 0);
  gate.resolve();
  await Promise.all(all);
  t.equal(run.activeCount, 0);
});

t.test('limit() rejects a fn that is not a function', async (t) => {
  await t.rejects(limit(1)(42 as never), new TypeError('limit(): fn must be a function, got 42 (number)'));
});

t.test('limit() passes extra arguments on to the function, as p-limit does', async (t) => {
  const run = limit(1);
  t.equal(await run((a: number, b: string) => `${a}${b}`, 1, 'x'), '1x');
});
