import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import { TimeoutError, WorkerError } from './errors.js';
import { backoff, type Backoff, type RetryOptions } from './internal/backoff.js';
import { BatchHead } from './internal/batch-head.js';
import { Engine } from './internal/engine.js';
import { bindSignal, poolOptions, stageOptions, type StageOptions } from './internal/stage-options.js';
import { Many, type StageContext } from './internal/steps.js';
import type { BatchDone, Failure } from './internal/thread-protocol.js';
import { sleep } from './internal/timers.js';
import type { itemTypes, OnError, TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';
import { ThreadPool, type PoolTask, type TransferListItem } from './thread-pool.js';

/** Options for {@link threads}. */
export interface ThreadsOptions<I = unknown, O = unknown> extends Omit<StageOptions, 'name'> {
  /** The export to run, or several run one after another as one chain (as `chain()` would). @default 'default' */
  name?: string | readonly string[];
  /** Worker threads (a pool of the stage's own, ended with it). Not with `pool`. @default os.availableParallelism() */
  threads?: number;
  /** A {@link ThreadPool} shared with other stages, instead of one of the stage's own. @default undefined */
  pool?: ThreadPool;
  /** Items per message to a thread: the cost of a message (~50 µs) is shared by them. @default 256 */
  batch?: number;
  /** Milliseconds a partial batch waits for more items before it is sent anyway. @default 10 */
  maxWait?: number;
  /** Batches sent to each thread ahead of its work, so it never waits for the next. @default 2 */
  inFlight?: number;
  /** Output in input order; `false` passes each batch's results on as it finishes. @default true */
  ordered?: boolean;
  /** Items run at once inside each thread, for async functions. @default 1 */
  concurrency?: number;
  /** Milliseconds per batch: then its functions' `ctx.signal` aborts and it fails with a `TimeoutError`. @default undefined (none) */
  timeout?: number;
  /** Exponential backoff for an item whose function failed: it is run again, alone. @default undefined (no retries) */
  retry?: RetryOptions;
  /** What to do with an item whose function failed (after its retries), as in `parallel()`: the error is a {@link WorkerError}. @default 'fail' */
  onError?: OnError<I, O>;
  /** The ArrayBuffers of an item to move to the thread instead of copying them. @default undefined (copy) */
  transfer?: (item: I) => readonly TransferListItem[];
  /** Given to each thread of the stage's own pool as `workerData`. Not with `pool`. @default undefined */
  workerData?: unknown;
  /** Memory limits of each thread of the stage's own pool. Not with `pool`. @default undefined */
  resourceLimits?: ResourceLimits;
}

const WHERE = 'threads()';
const KEYS = [
  ...check.STAGE_KEYS,
  'name',
  'threads',
  'pool',
  'batch',
  'maxWait',
  'inFlight',
  'ordered',
  'concurrency',
  'timeout',
  'retry',
  'onError',
  'transfer',
  'workerData',
  'resourceLimits',
] as const;

/** A module to load in a worker: a file: URL from a URL or a path. */
function moduleUrl(module: unknown): string {
  let url: string;
  if (module instanceof URL) url = module.href;
  else if (typeof module === 'string' && module !== '') url = module.startsWith('file:') ? module : pathToFileURL(resolve(module)).href;
  else check.invalid(WHERE, 'module', 'a URL or a path of an ES module', module);
  if (!url.startsWith('file:')) check.invalid(WHERE, 'module', 'a file: URL or a path', module);
  if (!existsSync(fileURLToPath(url))) throw new TypeError(`${WHERE}: module ${url} does not exist`);
  return url;
}

/** The stage behind {@link threads}: sluice's engine sending batches to worker threads, `threads × inFlight` at a time. */
export class Threads<I = unknown, O = unknown> extends Engine implements TypedDuplex<I, O> {
  declare readonly [itemTypes]?: { in: (value: I) => void; out: O };
  readonly #failed = { skipped: 0 };
  /** A pool of the stage's own, ended with it. */
  readonly #own: ThreadPool | undefined;

  constructor(module: string | URL, options?: ThreadsOptions<I, O>) {
    const url = moduleUrl(module);
    const opts = check.options(WHERE, options, 'options', KEYS);
    const { name: _exports, ...common } = opts;
    const stage = stageOptions(WHERE, common);
    const names = opts.name === undefined ? ['default'] : typeof opts.name === 'string' ? [opts.name] : [...opts.name];
    if (names.length === 0 || names.some((n) => typeof n !== 'string' || n === ''))
      check.invalid(WHERE, 'options.name', 'an export name or a non-empty array of them', opts.name);
    if (opts.pool !== undefined) {
      if (!(opts.pool instanceof ThreadPool)) check.invalid(WHERE, 'options.pool', 'a ThreadPool (from threadPool())', opts.pool);
      for (const key of ['threads', 'workerData', 'resourceLimits'] as const) {
        if (opts[key] !== undefined) throw new TypeError(`${WHERE}: options.${key} belongs to the pool given as options.pool`);
      }
    }
    const pool =
      opts.pool ??
      new ThreadPool({
        ...(opts.threads === undefined ? {} : { threads: opts.threads }),
        workerData: opts.workerData,
        ...(opts.resourceLimits === undefined ? {} : { resourceLimits: opts.resourceLimits }),
      });
    const size = opts.batch === undefined ? 256 : check.integer(WHERE, 'options.batch', opts.batch, 1);
    const maxWait = opts.maxWait === undefined ? 10 : check.delay(WHERE, 'options.maxWait', opts.maxWait);
    const inFlight = opts.inFlight === undefined ? 2 : check.integer(WHERE, 'options.inFlight', opts.inFlight, 1);
    const concurrency = opts.concurrency === undefined ? 1 : check.integer(WHERE, 'options.concurrency', opts.concurrency, 1);
    const timeout = opts.timeout === undefined ? undefined : check.delay(WHERE, 'options.timeout', opts.timeout);
    const retry = backoff(WHERE, opts.retry);
    const transfer =
      opts.transfer === undefined ? undefined : check.func<(item: unknown) => readonly TransferListItem[]>(WHERE, 'options.transfer', opts.transfer);
    const { ordered, onError } = poolOptions(
      WHERE,
      { ...(opts.ordered === undefined ? {} : { ordered: opts.ordered }), ...(opts.onError === undefined ? {} : { onError: opts.onError }) },
      1,
    );
    const failed = { skipped: 0 };
    const send: Send = { pool, url, names, concurrency, failFast: onError === 'fail' && retry.retries === 0, timeout, transfer };
    let next = 0;
    // One step per batch; lanes start in input order, so `first` numbers the items as they were written.
    const step = async (value: unknown, ctx: StageContext): Promise<Many<unknown>> => {
      const items = value as unknown[];
      const first = next;
      next += items.length;
      let done: BatchDone;
      try {
        done = await run(send, items, ctx.signal);
      } catch (error) {
        // A batch that timed out: every item of it failed with the TimeoutError.
        if (!(error instanceof TimeoutError) || onError === 'fail') throw error;
        if (onError === 'skip') {
          failed.skipped += items.length;
          return new Many([]);
        }
        return new Many(items.map((item) => onError(error, item)).filter((r) => r !== undefined && r !== null));
      }
      if (done.errors.length === 0) return new Many(done.outputs);
      return new Many(await settle(send, items, first, done, { retry, onError, failed }, ctx.signal));
    };
    super([{ kind: 'map', fn: step }], {
      ...stage,
      signal: undefined,
      concurrency: pool.threads * inFlight,
      ordered,
      head: (give) => new BatchHead(size, maxWait, give),
      name: `threads(${names.join(', ')})`,
    });
    this.#failed = failed;
    this.#own = opts.pool === undefined ? pool : undefined;
    // Bound here rather than by the engine: an aborted signal destroys the stage at once, and _destroy
    // needs #own to close the stage's own pool.
    bindSignal(this, stage.signal);
  }

  // Its own threads are ended before the stage closes, so that nothing is left once pipeline() settles.
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    super._destroy(error, (e) => {
      if (this.#own === undefined) callback(e);
      else void this.#own.close().then(() => callback(e));
    });
  }

  /** Items dropped because their function failed and `onError` is `'skip'`. */
  override get skipped(): number {
    return this.#failed.skipped;
  }
}

interface Send {
  pool: ThreadPool;
  url: string;
  names: readonly string[];
  concurrency: number;
  failFast: boolean;
  timeout: number | undefined;
  transfer: ((item: unknown) => readonly TransferListItem[]) | undefined;
}

function run(send: Send, items: unknown[], signal: AbortSignal): Promise<BatchDone> {
  const task: PoolTask = {
    module: send.url,
    names: send.names,
    items,
    concurrency: send.concurrency,
    failFast: send.failFast,
    transfer: send.transfer === undefined ? [] : items.flatMap((item) => send.transfer!(item)),
  };
  return send.pool.run(task, signal, send.timeout);
}

/** A batch's outputs with its failed items retried, then dropped, replaced or failing the stage. */
async function settle(
  send: Send,
  items: unknown[],
  first: number,
  done: BatchDone,
  policy: { retry: Backoff; onError: OnError<unknown, unknown>; failed: { skipped: number } },
  signal: AbortSignal,
): Promise<unknown[]> {
  const out: unknown[] = [];
  let from = 0;
  for (const failure of done.errors) {
    // What the failed item gave before it failed is dropped: it came from a call that did not succeed.
    for (; from < failure.start; from++) out.push(done.outputs[from]);
    from = failure.at;
    out.push(...(await recover(send, items[failure.index], first + failure.index, failure, policy, signal)));
  }
  for (; from < done.outputs.length; from++) out.push(done.outputs[from]);
  return out;
}

async function recover(
  send: Send,
  item: unknown,
  index: number,
  failure: Failure,
  policy: { retry: Backoff; onError: OnError<unknown, unknown>; failed: { skipped: number } },
  signal: AbortSignal,
): Promise<unknown[]> {
  let error = new WorkerError(failure.thrown, index);
  for (let attempt = 1; attempt <= policy.retry.retries && policy.retry.retryIf(error, attempt); attempt++) {
    await sleep(policy.retry.delay(attempt), signal);
    const again = await run(send, [item], signal);
    if (again.errors.length === 0) return again.outputs;
    error = new WorkerError(again.errors[0]!.thrown, index);
  }
  const { onError } = policy;
  if (onError === 'fail') throw error;
  if (onError === 'skip') {
    policy.failed.skipped++;
    return [];
  }
  const replacement = onError(error, item);
  return replacement === undefined || replacement === null ? [] : [replacement];
}

/**
 * Runs a CPU-bound stage on every core: the functions a module exports run in worker threads, over
 * batches of items, with sluice's own engine (so their results follow `chain()`'s rules: `undefined`
 * and `null` drop, `many()` and generators give several, async functions are awaited).
 *
 * `module` is an ES module (a URL, or a path) whose export `options.name` (default `default`) is
 * called as `fn(item, { signal, index })` in a worker; with several names, they run as one chain. Items
 * go in batches of `batch` (or after `maxWait` ms), at most `threads × inFlight` batches out at once:
 * beyond that, writing waits (backpressure). Items and results are copied between threads (structured
 * clone); `transfer` moves ArrayBuffers instead. Output keeps the input's order unless `ordered: false`.
 *
 * Errors cannot cross threads as the same object: a function that throws gives a {@link WorkerError}
 * naming the item's index, with the original's message and stack; a thread that dies gives a
 * {@link WorkerExitError}. `retry` and `onError` work as in `parallel()`. Destroying the stage (an error
 * elsewhere, an abort, an early end) aborts the functions' `ctx.signal` in the threads; a thread still
 * busy after a while is terminated. Threads start as work comes and end with the stage (or with
 * `pool.close()` for a shared {@link ThreadPool}); an idle thread does not keep the process alive.
 *
 * @typeParam I The items written in.
 * @typeParam O The items that come out.
 * @param module The worker module: a URL or a path.
 * @param options See {@link ThreadsOptions}.
 * @returns A Duplex.
 * @throws {TypeError | RangeError} When `module` does not exist or an option is invalid.
 *
 * @example Hash lines on every core
 * ```ts
 * import { threads, toArray } from 'sluice';
 * import { mkdtempSync, writeFileSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * const dir = mkdtempSync(join(tmpdir(), 'sluice-'));
 * const module = join(dir, 'hash.mjs');
 * writeFileSync(module, `import { createHash } from 'node:crypto';
 * export default (line) => createHash('sha256').update(line).digest('hex').slice(0, 8);`);
 * const out = await toArray(['a', 'b'], threads<string, string>(module, { threads: 2 }));
 * assert.deepEqual(out, ['ca978112', '3e23e816']);
 * ```
 */
export function threads<I = unknown, O = unknown>(module: string | URL, options?: ThreadsOptions<I, O>): Threads<I, O> {
  return new Threads<I, O>(module, options);
}
