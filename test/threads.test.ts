// threads() and threadPool(): real worker threads, no mocks.
import t from 'tap';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { TimeoutError, WorkerError, WorkerExitError, SluiceError } from '../lib/errors.js';
import { chain } from '../lib/chain.js';
import { pipeline } from '../lib/pipeline.js';
import { threads, Threads } from '../lib/threads.js';
import { threadPool, ThreadPool } from '../lib/thread-pool.js';
import { toArray } from '../lib/to-array.js';
import { Checkpoint, isCheckpoint } from '../lib/internal/checkpoint.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { counted, rejection, slowSink, sourceState } from './fixtures/helpers.js';
import { ensureBuilt } from './fixtures/cli.js';
import { stageContract } from './fixtures/contract.js';

// Starting threads costs tens of ms each, more on a loaded machine.
t.setTimeout(240_000);

const basic = new URL('./fixtures/workers/basic.mjs', import.meta.url);
// Under a TypeScript loader, a new thread brings the loader's own helpers (a port, timers), which go a
// little after it: verify() waits for them (it returns as soon as nothing is left).
const checkLeaks = (): ReturnType<typeof leakCheck> => leakCheck({ timeout: 10_000 });
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

t.test('threads() runs the default export over the items, in order', async (t) => {
  const check = checkLeaks();
  t.same(
    await toArray(range(600), threads<number, number>(basic, { threads: 2 })),
    range(600).map((n) => n * 2),
  );
  await check.verify();
});

t.test("threads() runs a named export, or several as one chain, with chain()'s result rules", async (t) => {
  t.same(await toArray(['a', 'b'], threads(basic, { name: 'hash', threads: 1 })), ['ca978112', '3e23e816']);
  t.same(await toArray(range(6), threads(basic, { name: ['dropOdd', 'twice'], threads: 2, batch: 2 })), [0, -0, 2, -2, 4, -4]);
  t.same(await toArray(range(5), threads(basic, { name: 'nullFor3', threads: 1 })), [0, 1, 2, 4]);
  t.same(
    await toArray(range(4), threads(basic, { name: 'slowTwice', threads: 2, batch: 3, concurrency: 3 })),
    range(4).flatMap((n) => [n, n + 0.5]),
  );
  t.same(
    await toArray(['abc', 'de'], threads(fileURLToPath(new URL('./fixtures/workers/typed.ts', import.meta.url)), { threads: 1 })),
    [3, 2],
    'a TypeScript module under a TS loader',
  );
});

t.test('threads() equals the single-thread chain (ordered) or a permutation of it (unordered), for any threads, batch and input', async (t) => {
  const check = checkLeaks();
  const pool = threadPool({ threads: 4 });
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -100, max: 100 }), { maxLength: 80 }),
        fc.integer({ min: 1, max: 9 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 3 }),
        async (input, batch, ordered, concurrency) => {
          const expected = input.map((n) => n + 1);
          const got = await toArray(input, threads<number, number>(basic, { name: 'later', pool, batch, ordered, concurrency }));
          if (ordered) t.same(got, expected);
          else
            t.same(
              [...got].sort((a, b) => a - b),
              [...expected].sort((a, b) => a - b),
            );
        },
      ),
      { numRuns: 40 },
    );
  } finally {
    await pool.close();
  }
  await check.verify();
});

t.test("threads() fails with a WorkerError naming the item, with the original's message, stack, name and code", async (t) => {
  const check = checkLeaks();
  const err = await rejection(toArray(range(10), threads(basic, { name: 'failOn5', threads: 2, batch: 3 })));
  t.ok(err instanceof WorkerError);
  t.ok(err instanceof SluiceError);
  const e = err as WorkerError;
  t.equal(e.code, 'ERR_SLUICE_WORKER');
  t.equal(e.message, 'no 5');
  t.equal(e.index, 5);
  t.match(e.stack, /TypeError: no 5\n\s+at failOn5 .*basic\.mjs/);
  t.match(e.cause, { name: 'TypeError', message: 'no 5', code: 'E_FIVE' });
  const thrown = await rejection(toArray(range(4), threads(basic, { name: 'throwString', threads: 1 })));
  t.ok(thrown instanceof WorkerError);
  t.equal((thrown as WorkerError).cause, 'just a string');
  await check.verify();
});

t.test("threads() onError: 'skip' drops failed items and counts them; a function replaces them", async (t) => {
  const skip = threads<number, number>(basic, { name: 'failOn5', threads: 2, batch: 4, onError: 'skip' });
  t.same(await toArray(range(8), skip), [0, 1, 2, 3, 4, 6, 7]);
  t.equal(skip.skipped, 1);
  const seen: unknown[] = [];
  const replace = threads<number, number>(basic, {
    name: 'failOn5',
    threads: 1,
    onError: (error, item) => {
      seen.push([(error as WorkerError).index, item]);
      return -1;
    },
  });
  t.same(await toArray(range(7), replace), [0, 1, 2, 3, 4, -1, 6]);
  t.same(seen, [[5, 5]]);
});

t.test('threads() retries a failed item alone, after a backoff', async (t) => {
  const out = await toArray(range(5), threads(basic, { name: 'flaky', threads: 1, retry: { retries: 2, minDelay: 1 } }));
  t.same(out, range(5));
});

t.test('threads() fails with a WorkerExitError when a thread exits or dies of an uncaught error, never hanging', async (t) => {
  const check = checkLeaks();
  for (const name of ['exitOn3', 'timerThrows']) {
    const err = await rejection(
      pipeline(range(200), threads(basic, { name, threads: 2, batch: 2 }), new Writable({ objectMode: true, write: (_c, _e, cb) => setTimeout(cb, 1) })),
    );
    t.ok(err instanceof WorkerExitError, `${name}: ${String(err)}`);
    t.equal((err as WorkerExitError).code, 'ERR_SLUICE_WORKER_EXIT');
  }
  await check.verify();
});

t.test('threads() with a timeout fails the batch with a TimeoutError and ends a thread that does not stop', async (t) => {
  const check = checkLeaks();
  const aborted = await rejection(toArray([1], threads(basic, { name: 'forever', threads: 1, timeout: 50 })));
  t.ok(aborted instanceof TimeoutError);
  const busy = await rejection(toArray([1], threads(basic, { name: 'busy', threads: 1, timeout: 50 })));
  t.ok(busy instanceof TimeoutError, 'a thread in an endless loop is terminated');
  await check.verify();
});

t.test('threads() destroyed by an abort rejects with the reason and leaves no thread behind', async (t) => {
  const check = checkLeaks();
  const controller = new AbortController();
  const reason = new Error('stop');
  const run = pipeline(range(10), threads(basic, { name: 'forever', threads: 2, batch: 1 }), slowSink(), { signal: controller.signal });
  setTimeout(() => controller.abort(reason), 50);
  t.equal(await rejection(run), reason);
  await check.verify();
});

t.test('threads() holds its writer back: a fast source, busy threads and a slow sink keep items in flight bounded', async (t) => {
  const state = sourceState();
  let most = 0;
  const sink = slowSink<number>({ onItem: () => (most = Math.max(most, state.produced - sink.items.length)) });
  await pipeline(counted(3000, state), threads(basic, { name: 'hash', threads: 2, batch: 16, inFlight: 2 }), sink);
  t.equal(sink.items.length, 3000);
  // Batches running, done and waiting for their turn, and queued (3 × threads × inFlight), plus the buffers between.
  t.ok(most <= 3 * 2 * 2 * 16 + 16 * 5, `at most ${most} items in flight`);
});

t.test('threads() moves transferred ArrayBuffers instead of copying them', async (t) => {
  const buffers = [new ArrayBuffer(8), new ArrayBuffer(16)];
  const out = await toArray(buffers, threads<ArrayBuffer, number>(basic, { name: 'byteLength', threads: 1, transfer: (b) => [b] }));
  t.same(out, [8, 16]);
  t.same(
    buffers.map((b) => b.byteLength),
    [0, 0],
    'detached here',
  );
});

t.test('threads() passes workerData to its threads; a shared pool serves several stages and closes', async (t) => {
  t.same(await toArray([1], threads(basic, { name: 'data', threads: 1, workerData: { k: 'v' } })), [{ k: 'v' }]);
  const check = checkLeaks();
  const pool = threadPool({ threads: 2 });
  t.ok(pool instanceof ThreadPool);
  t.equal(pool.threads, 2);
  const [a, b] = await Promise.all([toArray(range(50), threads(basic, { pool })), toArray(['x'], threads(basic, { pool, name: 'hash' }))]);
  t.same(
    a,
    range(50).map((n) => n * 2),
  );
  t.same(b, ['2d711642']);
  t.ok(pool.started >= 1 && pool.started <= 2);
  await pool.close();
  t.equal(pool.started, 0);
  await check.verify();
});

t.test('threads() passes checkpoints on after every item written before them', async (t) => {
  const passed: number[] = [];
  const items: unknown[] = [];
  for (let i = 0; i < 20; i++) {
    items.push(i);
    if (i % 6 === 5) items.push(new Checkpoint(() => passed.push(i)));
  }
  const out = await toArray(items, threads(basic, { name: 'later', threads: 2, batch: 4, ordered: false, concurrency: 2 }));
  let count = 0;
  for (const item of out) {
    if (isCheckpoint(item)) {
      const cp = [5, 11, 17][passed.length] ?? Infinity;
      t.ok(count >= cp + 1, `a checkpoint after item ${cp} passed with ${count} items out`);
      item.resolve();
    } else count++;
  }
  t.same(passed, [5, 11, 17]);
});

t.test('threads() leaves the process free to exit, from a script given with -e too (the built package)', async (t) => {
  ensureBuilt();
  const script = `import { threads, threadPool, toArray } from './dist/index.js';
const module = new URL('./test/fixtures/workers/basic.mjs', import.meta.url);
console.log((await toArray([1, 2], threads(module, { threads: 2 }))).join(','));
// A shared pool left open: its idle threads do not keep the process alive either.
console.log((await toArray([3], threads(module, { pool: threadPool({ threads: 1 }) }))).join(','));`;
  const root = fileURLToPath(new URL('..', import.meta.url));
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  t.equal(r.stdout, '2,4\n6\n', r.stderr);
  t.equal(r.status, 0, 'exited by itself');
});

t.test('threads() validates its arguments when created', async (t) => {
  t.throws(() => threads(new URL('./fixtures/workers/nope.mjs', import.meta.url)), /threads\(\): module file:.*nope\.mjs does not exist/);
  t.throws(() => threads(5 as never), new TypeError('threads(): module must be a URL or a path of an ES module, got 5 (number)'));
  t.throws(() => threads(basic, { batch: 0 }), new RangeError('threads(): options.batch must be an integer >= 1, got 0 (number)'));
  t.throws(() => threads(basic, { threds: 2 } as never), new TypeError('threads(): options.threds is not an option (did you mean "threads"?)'));
  t.throws(() => threads(basic, { pool: threadPool(), threads: 2 }), new TypeError('threads(): options.threads belongs to the pool given as options.pool'));
  t.throws(() => threads(basic, { name: [] }), TypeError);
  const missing = await rejection(toArray([1], threads(basic, { name: 'nothing', threads: 1 })));
  t.ok(missing instanceof WorkerError);
  t.match((missing as Error).message, /has no function export named "nothing"/);
  t.ok(new Threads(basic, { threads: 1 }) instanceof Threads);
});

t.test('threads() output that cannot be cloned fails the item with a clear error', async (t) => {
  const err = await rejection(toArray([1], threads(basic, { name: 'fn', threads: 1 })));
  t.ok(err instanceof WorkerError);
  t.match((err as Error).message, /could not be cloned/);
});

t.test('threads() in a chain, after functions of the main thread', async (t) => {
  t.same(await toArray(range(5), chain([(n: number) => n + 1, threads<number, number>(basic, { threads: 1 })])), [2, 4, 6, 8, 10]);
});

// The function runs in another thread, so errors from it are not the same object: upstream's are.
stageContract('threads()', (options) => threads<number, number>(basic, { ...options, threads: 1 }), {
  userFunction: false,
  expected: [0, 2, 4],
  leakCheck: { timeout: 10_000 },
});
