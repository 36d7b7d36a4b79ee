/**
 * threads: a CPU-bound function over many items, on one thread and on several, side by side. The
 * yardstick is the machine's own parallel capacity: the same work cut in two halves, run as two
 * independent processes at once (a job that spawns two children, each running the one-thread
 * `map()` variant on its half, and waits for both; timed whole, start-up included). `threads()`'s
 * efficiency is its rate over theirs, the "vs two processes" column: (map / threads) / (map / two
 * processes) is two processes' time over threads' time.
 *
 * Items flow as users write it: `Readable.from(generator)` → the stage → an object-mode Writable,
 * through `stream/promises`' pipeline. piscina is used as one would at first: `maxThreads: 2`, one
 * `run(item)` per item through `parallel()` (16 at once); made and destroyed in the job, as threads()
 * starts and ends its own threads there. Cases:
 *   - hash: 1 KiB lines, each hashed with sha256 eight times over (~14 µs per item on an idle core);
 *   - dispatch: numbers through `n => n + 1`: what is left is the cost of getting items to a thread
 *     and back. Each stage variant's process first times the plain pipeline (the function in the sink)
 *     twice, untimed by the runner, and reports its own time over the second, per item (paired, so
 *     the noise of the machine is shared).
 * The functions live in threads-worker.ts, which the runner transpiles with the rest of bench/ so the
 * threads load plain JavaScript. Every sink adds up (position × result) modulo 2^31 - 1: a result out
 * of order, lost or wrong changes the check.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { MissingError, type Job, type Scenario, type Work } from './harness.js';
import { loadSluice } from './sluice.js';
import { hash, inc } from './threads-worker.js';

interface Params {
  fn: 'hash' | 'inc';
  /** Items of this run, numbered from `offset` (a half starts in the middle). */
  items: number;
  offset: number;
  /** One of the two halves: no paired plain run (the parent times the whole process). */
  half?: boolean;
}

const FNS = { hash, inc } as const;
// Beside this file in the runner's transpiled copy; threads() and piscina load it as plain JavaScript.
const WORKER = new URL('./threads-worker.js', import.meta.url);
const CHILD = new URL('./child.js', import.meta.url);
const MAP = 'sluice map() (1 thread)';
const P = 2 ** 31 - 1;
const FILLER = 'x'.repeat(1015);

/** Item `i`: a 1 KiB line for `hash`, the number itself for `inc`. */
function* items({ fn, items, offset }: Params): Generator<string | number, void, undefined> {
  const end = offset + items;
  if (fn === 'hash') for (let i = offset; i < end; i++) yield `${String(i).padStart(8, '0')} ${FILLER}`;
  else for (let i = offset; i < end; i++) yield i;
}

/** The sink: counts results and adds up (position × result) mod P, positions counted from `offset`. */
function checkSink(offset: number, apply?: (value: never) => number): { sink: Writable; work: () => Work } {
  let k = offset;
  let check = 0;
  const sink = new Writable({
    objectMode: true,
    write(value: number, _encoding, callback) {
      const result = apply === undefined ? value : apply(value as never);
      check = (check + (((k + 1) * result) % P)) % P;
      k++;
      callback();
    },
  });
  return { sink, work: () => ({ items: k - offset, check }) };
}

/** The plain pipeline, the function called in the sink: no stage at all. */
async function plain(params: Params): Promise<Work> {
  const { sink, work } = checkSink(params.offset, FNS[params.fn] as (value: never) => number);
  await pipeline(Readable.from(items(params)), sink);
  return work();
}

/**
 * The job: the items through `stage()` into the checking sink. In the dispatch case, the plain
 * pipeline is timed first in this process (once to warm up, once measured) and the job reports the
 * stage's cost per item over it.
 */
async function stageJob(params: Params, stage: () => Duplex, after?: () => Promise<unknown>): Promise<Job> {
  let plainMs: number | undefined;
  if (params.fn === 'inc' && params.half !== true) {
    await plain(params);
    const start = performance.now();
    await plain(params);
    plainMs = performance.now() - start;
  }
  return async () => {
    const start = performance.now();
    const { sink, work } = checkSink(params.offset);
    await pipeline(Readable.from(items(params)), stage(), sink);
    await after?.();
    const ms = performance.now() - start;
    return { ...work(), ...(plainMs === undefined ? {} : { extra: { overheadUs: ((ms - plainMs) * 1000) / params.items } }) };
  };
}

interface ThreadsApi {
  map(fn: (value: never) => unknown): Duplex;
  parallel(fn: (value: never) => Promise<unknown>, options: { concurrency: number }): Duplex;
  threads(module: URL, options: { name: string; threads?: number }): Duplex;
}

async function loadThreads(): Promise<ThreadsApi> {
  const mod = (await loadSluice('parallel')) as unknown as Record<string, unknown>;
  if (typeof mod['threads'] !== 'function' || typeof mod['map'] !== 'function') throw new MissingError('dist/index.js does not export threads and map (yet?)');
  return mod as unknown as ThreadsApi;
}

/** Runs the one-thread map() variant on `params` in a fresh process (child.js); its report. */
function half(params: Params): Promise<Work> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(CHILD), 'threads', MAP, JSON.stringify(params)], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
    let report = '';
    (child.stdio[3] as Readable).on('data', (chunk: Buffer) => (report += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        const parsed = JSON.parse(report) as ({ ok: true } & Work) | { ok: false; error: string };
        if (parsed.ok) resolve(parsed);
        else reject(new Error(`a half failed: ${parsed.error}`));
      } catch {
        reject(new Error(`a half exited with ${code} and no report`));
      }
    });
  });
}

export const scenario: Scenario<Params> = {
  description: 'a CPU-bound function on worker threads, against one thread and two independent processes',
  unit: 'items',
  async prepare({ quick }) {
    const hashItems = quick ? 2_000 : 100_000;
    const incItems = quick ? 10_000 : 1_000_000;
    return [
      {
        name: 'hash',
        title: 'sha256 × 8 of a 1 KiB line per item',
        params: { fn: 'hash', items: hashItems, offset: 0 },
        items: hashItems,
        expect: { items: hashItems },
      },
      {
        name: 'dispatch',
        title: 'n => n + 1 per item: the cost of the trip to a thread',
        params: { fn: 'inc', items: incItems, offset: 0 },
        items: incItems,
        expect: { items: incItems },
      },
    ];
  },
  variants: [
    {
      name: 'plain pipeline, fn in the sink',
      async setup(params) {
        return () => plain(params);
      },
    },
    {
      name: MAP,
      async setup(params) {
        const { map } = await loadThreads();
        return stageJob(params, () => map(FNS[params.fn] as (value: never) => unknown));
      },
    },
    {
      name: 'two processes, map() on halves',
      async setup(params) {
        const first = Math.floor(params.items / 2);
        return async () => {
          const halves = await Promise.all([
            half({ ...params, items: first, half: true }),
            half({ ...params, offset: params.offset + first, items: params.items - first, half: true }),
          ]);
          return {
            items: halves.reduce((n, h) => n + (h.items ?? 0), 0),
            check: halves.reduce((sum: number, h) => (sum + Number(h.check)) % P, 0),
          };
        };
      },
    },
    {
      name: 'piscina, one run() per item',
      async setup(params) {
        const { Piscina } = await import('piscina');
        const { parallel } = await loadThreads();
        // Made in the job, as threads() is: both pay for starting their threads.
        let pool: InstanceType<typeof Piscina> | undefined;
        return stageJob(
          params,
          () => {
            const p = (pool = new Piscina({ filename: WORKER.href, name: params.fn, maxThreads: 2 }));
            return parallel((item: never) => p.run(item) as Promise<unknown>, { concurrency: 16 });
          },
          () => pool!.destroy(),
        );
      },
    },
    {
      name: 'sluice threads({ threads: 2 })',
      sluice: true,
      async setup(params) {
        const { threads } = await loadThreads();
        return stageJob(params, () => threads(WORKER, { name: params.fn, threads: 2 }));
      },
    },
    {
      name: 'sluice threads()',
      sluice: true,
      async setup(params) {
        const { threads } = await loadThreads();
        return stageJob(params, () => threads(WORKER, { name: params.fn }));
      },
    },
  ],
  columns: [{ key: 'overheadUs', label: 'over plain, µs/item', format: (us) => us.toFixed(2) }],
  targets: [
    // (map / threads) / (map / two processes) = threads' rate over two processes' rate.
    { case: 'hash', variant: 'sluice threads({ threads: 2 })', vs: 'two processes, map() on halves', atLeast: 0.85 },
    { case: 'hash', variant: 'sluice threads({ threads: 2 })', vs: 'piscina, one run() per item', atLeast: 3 },
    { case: 'dispatch', variant: 'sluice threads()', extraUnder: ['overheadUs', 0.5] },
  ],
};
