import t from 'tap';
import fc from 'fast-check';
import { Semaphore, type Release } from '../lib/semaphore.js';
import { leakCheck } from '../lib/testing/leak-check.js';

const ticks = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

t.test('Semaphore() refuses permits that are not an integer >= 1 or Infinity', async (t) => {
  t.throws(() => new Semaphore(0), new RangeError('Semaphore(): permits must be an integer >= 1 or Infinity, got 0 (number)'));
  t.throws(() => new Semaphore(1.5), RangeError);
  t.throws(() => new Semaphore(NaN), RangeError);
  t.throws(() => new Semaphore(-Infinity), RangeError);
  t.throws(() => new Semaphore('2' as never), new TypeError('Semaphore(): permits must be an integer >= 1, got "2" (string)'));
  t.equal(new Semaphore(Infinity).available, Infinity);
});

t.test('Semaphore() acquire() resolves at once while places are free', async (t) => {
  const sem = new Semaphore(2);
  const a = await sem.acquire();
  t.equal(sem.available, 1);
  const b = await sem.acquire();
  t.equal(sem.available, 0);
  a();
  b();
  t.equal(sem.available, 2);
});

t.test('Semaphore() serves waiters first come, first served', async (t) => {
  const sem = new Semaphore(1);
  const first = await sem.acquire();
  const order: number[] = [];
  const waiters = [1, 2, 3].map((n) =>
    sem.acquire().then((release) => {
      order.push(n);
      release();
    }),
  );
  t.equal(sem.pending, 3);
  first();
  await Promise.all(waiters);
  t.same(order, [1, 2, 3]);
  t.equal(sem.available, 1);
  t.equal(sem.pending, 0);
});

t.test('Semaphore() release() twice frees one place only', async (t) => {
  const sem = new Semaphore(2);
  const a = await sem.acquire();
  await sem.acquire();
  a();
  a();
  t.equal(sem.available, 1);
  const c = await sem.acquire();
  const waiting = sem.acquire();
  c();
  c();
  const d = await waiting;
  t.equal(sem.available, 0);
  d();
  t.equal(sem.available, 1);
});

t.test('Semaphore() acquire() rejects with the signal reason unchanged and leaves the queue', async (t) => {
  const sem = new Semaphore(1);
  const held = await sem.acquire();
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const order: string[] = [];
  const before = sem.acquire().then((r) => {
    order.push('before');
    r();
  });
  const aborted = sem.acquire({ signal: controller.signal });
  const after = sem.acquire().then((r) => {
    order.push('after');
    r();
  });
  const reason = { why: 'not an Error, and kept as is' };
  controller.abort(reason);
  const err = await aborted.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal(err, reason);
  t.equal(sem.pending, 2);
  held();
  await Promise.all([before, after]);
  t.same(order, ['before', 'after']);
  t.equal(sem.available, 1);
  await check.verify();
});

t.test('Semaphore() acquire() with an aborted signal rejects even when a place is free', async (t) => {
  const sem = new Semaphore(1);
  const reason = new Error('already');
  t.equal(
    await sem.acquire({ signal: AbortSignal.abort(reason) }).then(
      () => undefined,
      (e: unknown) => e,
    ),
    reason,
  );
  t.equal(sem.available, 1);
});

t.test("Semaphore() acquire() removes its 'abort' listener once it gets a place", async (t) => {
  const sem = new Semaphore(1);
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const held = await sem.acquire();
  const waiting = sem.acquire({ signal: controller.signal });
  held();
  const release = await waiting;
  controller.abort(); // too late to matter
  t.equal(sem.available, 0);
  release();
  t.equal(sem.available, 1);
  await check.verify();
});

t.test('Semaphore() tryAcquire() takes a free place but never jumps the queue', async (t) => {
  const sem = new Semaphore(1);
  const held = sem.tryAcquire();
  t.type(held, 'function');
  t.equal(sem.tryAcquire(), undefined);
  const waiting = sem.acquire();
  held?.();
  // The place went to the waiter, so it is not free for tryAcquire() in between.
  t.equal(sem.tryAcquire(), undefined);
  (await waiting)();
  t.type(sem.tryAcquire(), 'function');
});

t.test('Semaphore() validates acquire() options', async (t) => {
  const sem = new Semaphore(1);
  t.throws(() => sem.acquire({ signal: 'x' as never }), new TypeError('Semaphore.acquire(): options.signal must be an AbortSignal, got "x" (string)'));
  t.throws(() => sem.acquire(1 as never), TypeError);
});

t.test('Semaphore() never has more holders than permits, and serves in order (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.record({ work: fc.nat(5), abortAfter: fc.option(fc.nat(5)) }), { maxLength: 20 }),
      async (permits, jobs) => {
        const sem = new Semaphore(permits);
        let holders = 0;
        const served: number[] = [];
        await Promise.all(
          jobs.map(async ({ work, abortAfter }, i) => {
            const controller = new AbortController();
            if (abortAfter !== null) void ticks(abortAfter).then(() => controller.abort());
            let release: Release;
            try {
              release = await sem.acquire({ signal: controller.signal });
            } catch {
              return;
            }
            served.push(i);
            holders++;
            if (holders > permits) throw new Error(`${holders} holders with ${permits} permits`);
            await ticks(work);
            holders--;
            release();
          }),
        );
        // The first `permits` are served at once; after them, the order is the order of arrival.
        const sorted = [...served].sort((a, b) => a - b);
        if (served.join() !== sorted.join()) throw new Error(`served out of order: ${served.join()}`);
        if (sem.available !== permits || sem.pending !== 0) throw new Error('places not all given back');
      },
    ),
  );
});

t.test('Semaphore.setPermits() grows: the oldest waiters get the new places at once', async (t) => {
  const sem = new Semaphore(1);
  const first = await sem.acquire();
  const order: number[] = [];
  const waiters = [1, 2, 3].map((n) => sem.acquire().then((release) => (order.push(n), release)));
  sem.setPermits(3);
  t.equal(sem.permits, 3);
  const [a, b] = await Promise.all(waiters.slice(0, 2));
  t.same(order, [1, 2]);
  t.equal(sem.pending, 1);
  first();
  const c = await waiters[2]!;
  t.same(order, [1, 2, 3]);
  a!();
  b!();
  c();
  t.equal(sem.available, 3);
});

t.test('Semaphore.setPermits() shrinks as holders release, interrupting nobody', async (t) => {
  const sem = new Semaphore(3);
  const held = await Promise.all([sem.acquire(), sem.acquire(), sem.acquire()]);
  sem.setPermits(1);
  t.equal(sem.available, 0);
  let got = false;
  const waiting = sem.acquire().then((release) => ((got = true), release));
  held[0]!();
  held[1]!();
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(got, false, 'two holders were over the new limit');
  held[2]!();
  const last = await waiting;
  t.equal(sem.available, 0);
  last();
  t.equal(sem.available, 1);
});

t.test('Semaphore.setPermits() to and from Infinity', async (t) => {
  const sem = new Semaphore(Infinity);
  const releases = await Promise.all([sem.acquire(), sem.acquire()]);
  sem.setPermits(2);
  t.equal(sem.available, 0);
  t.equal(sem.tryAcquire(), undefined);
  sem.setPermits(Infinity);
  t.equal(sem.available, Infinity);
  for (const release of releases) release();
  t.throws(() => sem.setPermits(0), { name: 'RangeError', message: /setPermits\(\).*permits.*0/ });
});
