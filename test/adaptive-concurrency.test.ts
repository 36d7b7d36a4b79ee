import t from 'tap';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { chain } from '../lib/chain.js';
import { Limiter } from '../lib/internal/limiter.js';
import { parallel, type Parallel } from '../lib/parallel.js';
import { toArray } from '../lib/to-array.js';

/** Feeds the limiter `calls` samples from a service whose latency is `latency(limit)`. */
function drive(limiter: Limiter, calls: number, latency: (limit: number) => number, failed: (limit: number) => boolean = () => false): number[] {
  const limits: number[] = [];
  for (let i = 0; i < calls; i++) limits.push(limiter.sample(latency(limiter.limit), failed(limiter.limit)));
  return limits;
}

t.test('Limiter doubles a window until latency climbs, then grows by one a window, up to max', async (t) => {
  const limiter = new Limiter({ min: 1, max: 100, initial: 4 });
  t.equal(drive(limiter, 8, () => 10).at(-1), 8, 'one window of 8 calls: × 2');
  t.equal(drive(limiter, 8, () => 10).at(-1), 16, 'another: × 2');
  t.equal(drive(limiter, 16, () => 20).at(-1), 15, 'latency doubled: - 1, and slow start is over');
  t.equal(drive(limiter, 15, () => 10).at(-1), 16, 'flat again: + 1');
  drive(limiter, 10000, () => 10);
  t.equal(limiter.limit, 100);
});

t.test('Limiter settles near the capacity of a service that queues past it', async (t) => {
  // 16 calls at once take 10 ms each; more queue inside the service, and each waits its turn.
  const limiter = new Limiter({ min: 1, max: 256, initial: 4 });
  const limits = drive(limiter, 5000, (limit) => 10 * Math.max(1, limit / 16));
  const late = limits.slice(-2000);
  t.ok(Math.min(...late) >= 12 && Math.max(...late) <= 26, `settled in [12, 26]: ${Math.min(...late)}..${Math.max(...late)}`);
});

t.test('Limiter follows a capacity that drops mid-run', async (t) => {
  const limiter = new Limiter({ min: 1, max: 256, initial: 4 });
  const model = (capacity: number) => (limit: number) => 10 * Math.max(1, limit / capacity);
  const before = drive(limiter, 5000, model(20)).slice(-2000);
  t.ok(Math.min(...before) >= 10 && Math.max(...before) <= 32, `capacity 20: ${Math.min(...before)}..${Math.max(...before)}`);
  const after = drive(limiter, 5000, model(10)).slice(-2000);
  t.ok(Math.min(...after) >= 5 && Math.max(...after) <= 16, `capacity 10: ${Math.min(...after)}..${Math.max(...after)}`);
});

t.test('Limiter cuts the limit by a tenth after a window with a failure, never below min', async (t) => {
  const limiter = new Limiter({ min: 3, max: 100, initial: 40 });
  drive(
    limiter,
    40,
    () => 10,
    () => true,
  );
  t.equal(limiter.limit, 36);
  drive(
    limiter,
    1000,
    () => 10,
    () => true,
  );
  t.equal(limiter.limit, 3);
});

t.test('Limiter follows a service that got slower for good', async (t) => {
  const limiter = new Limiter({ min: 1, max: 64, initial: 16 });
  drive(limiter, 200, () => 10);
  const before = limiter.limit;
  // Twice as slow from now on, whatever the limit: the old baseline would keep cutting the limit.
  drive(limiter, 400, () => 20);
  const low = limiter.limit;
  t.ok(low < before, `the jump was taken for queueing: ${before} → ${low}`);
  drive(limiter, 20000, () => 20);
  t.equal(limiter.limit, 64, 'a probe measured the new latency and the limit grew again');
});

interface Service {
  url: string;
  peak: number;
  rejected: number;
  close(): Promise<void>;
}

/**
 * A real HTTP service on localhost with room for `capacity` requests at once (each takes `work` ms);
 * more wait their turn inside it, and past `3 × capacity` it answers 429 at once.
 */
async function service(capacity: number, work: number): Promise<Service> {
  let busy = 0;
  let inside = 0;
  const waiting: (() => void)[] = [];
  const state = { peak: 0, rejected: 0 };
  const serve = (done: () => void): void => {
    busy++;
    setTimeout(() => {
      busy--;
      done();
      waiting.shift()?.();
    }, work);
  };
  const server: Server = createServer((_req, res) => {
    if (inside >= 3 * capacity) {
      state.rejected++;
      res.writeHead(429).end();
      return;
    }
    inside++;
    state.peak = Math.max(state.peak, inside);
    const reply = (): void => {
      inside--;
      res.end('ok');
    };
    if (busy < capacity) serve(reply);
    else waiting.push(() => serve(reply));
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    get peak() {
      return state.peak;
    },
    get rejected() {
      return state.rejected;
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

class TooMany extends Error {}

t.test("parallel({ concurrency: 'auto' }) finds room in a real HTTP service and backs off before it overflows", async (t) => {
  const svc = await service(16, 4);
  t.teardown(() => svc.close());
  const warnings: Error[] = [];
  const onWarning = (warning: Error): number => warnings.push(warning);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const limits: number[] = [];
  const stage = parallel(
    async (n: number, { signal }) => {
      const res = await fetch(svc.url, { signal });
      await res.text();
      if (res.status === 429) throw new TooMany();
      limits.push(stage.concurrency);
      return n;
    },
    { concurrency: 'auto', retry: { retries: 20, minDelay: 2, maxDelay: 50, retryIf: (error) => error instanceof TooMany } },
  );
  const items = Array.from({ length: 3000 }, (_, i) => i);
  const out = await toArray(items, stage);
  t.same(out, items, 'every item, in order');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(
    warnings.map((w) => w.name),
    [],
    "fetch() keeping its listeners on the calls' one signal until GC is not a leak warning",
  );
  t.ok(Math.max(...limits) >= 8, `the limit grew from 4 while the service had room (peak ${Math.max(...limits)})`);
  // Past 48 inside, the service refuses, and a refusal cuts the limit: a limit that kept growing would
  // meet refusals on most calls. (The limit itself may still rise late in the run, when fewer calls than
  // it allows are left to make: timing decides that, so it is not what is checked.)
  t.ok(
    svc.rejected < items.length / 5,
    `refusals stayed a small share of the calls (${svc.rejected} refused, limit peak ${Math.max(...limits)}, ${svc.peak} inside at most)`,
  );
});

t.test("chain({ concurrency: 'auto' }) adapts its fused functions the same way", async (t) => {
  let inFlight = 0;
  let peak = 0;
  const out: number[] = [];
  await pipe(
    Readable.from(Array.from({ length: 400 }, (_, i) => i)),
    chain(
      [
        async (n: number) => {
          peak = Math.max(peak, ++inFlight);
          await new Promise((resolve) => setTimeout(resolve, 1));
          inFlight--;
          return n * 2;
        },
      ],
      { concurrency: { min: 2, max: 6, initial: 2 } },
    ),
    new Writable({
      objectMode: true,
      write(n: number, _enc, cb) {
        out.push(n);
        cb();
      },
    }),
  );
  t.equal(out.length, 400);
  t.same(out.slice(0, 3), [0, 2, 4], 'in order');
  t.ok(peak <= 6, `never above max (peak ${peak})`);
});

t.test("concurrency: 'auto' shrinks the limit while calls fail (onError: 'skip')", async (t) => {
  const stage = parallel(
    async () => {
      await null;
      throw new Error('overloaded');
    },
    { concurrency: { min: 1, max: 32, initial: 16 }, onError: 'skip' },
  );
  t.same(
    await toArray(
      Array.from({ length: 200 }, (_, i) => i),
      stage,
    ),
    [],
  );
  t.ok(stage.concurrency < 16, `a window with a failure cuts the limit: 16 → ${stage.concurrency}`);
});

t.test('concurrency option: a number, setConcurrency() while running, and bad values named', async (t) => {
  let inFlight = 0;
  let peak = 0;
  const stage = parallel(
    async (n: number) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      inFlight--;
      return n;
    },
    { concurrency: 2 },
  );
  t.equal(stage.concurrency, 2);
  const items = Array.from({ length: 60 }, (_, i) => i);
  const run = toArray(items, stage);
  stage.setConcurrency(5);
  t.equal(stage.concurrency, 5);
  t.same(await run, items);
  t.ok(peak <= 5, `at most the new limit (peak ${peak})`);
  t.throws(() => stage.setConcurrency(0), { name: 'RangeError', message: /setConcurrency\(\).*n.*0/ });
  t.throws(() => parallel(async (n) => n, { concurrency: 'fast' as never }), { name: 'TypeError', message: /options\.concurrency.*'auto'.*"fast"/ });
  t.throws(() => parallel(async (n) => n, { concurrency: { min: 4, max: 2 } }), { name: 'RangeError', message: /options\.concurrency\.max.*2/ });
  t.throws(() => parallel(async (n) => n, { concurrency: { mn: 1 } as never }), { name: 'TypeError', message: /options\.concurrency.*mn.*min/ });
  t.throws(() => parallel(async (n) => n, { concurrency: 'auto' }).setConcurrency(3), { name: 'TypeError', message: /adaptive/ });
  t.throws(() => (chain([(n: number) => n]) as unknown as Parallel).setConcurrency(3), { name: 'TypeError', message: /one item at a time/ });
});
