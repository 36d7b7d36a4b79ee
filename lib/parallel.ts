import { attempt } from './internal/attempt.js';
import { backoff, type RetryOptions } from './internal/backoff.js';
import { Engine } from './internal/engine.js';
import type { Counters } from './internal/stats.js';
import { poolOptions, stageOptions, type AdaptiveConcurrency, type StageOptions } from './internal/stage-options.js';
import type { StageContext, StepFn } from './internal/steps.js';
import type { itemTypes, OnError, TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

export type { AdaptiveConcurrency, RetryOptions };

export type { OnError };

/** Options for {@link parallel}. */
export interface ParallelOptions<I = unknown, O = unknown> extends StageOptions {
  /**
   * Most calls in flight at once: a number, or `'auto'` / `{ min, max, initial }` for a limit that
   * follows the service's health while it runs (it grows while latency stays flat and shrinks when
   * latency climbs or calls fail; see the README's "Adaptive concurrency"). `'auto'` is
   * `{ min: 1, max: 256, initial: 4 }`. The limit now is `stage.concurrency`.
   * @default 8
   */
  concurrency?: number | 'auto' | AdaptiveConcurrency;
  /** Output in input order (holding at most `concurrency` results); `false` emits in completion order. @default true */
  ordered?: boolean;
  /** Milliseconds per call (per try): the call's `signal` aborts and the try fails with a `TimeoutError`. @default undefined (none) */
  timeout?: number;
  /** Exponential backoff for failed calls. @default undefined (no retries) */
  retry?: RetryOptions;
  /**
   * `'fail'`: the first error destroys the stage (every in-flight call's `signal` aborts) and comes out
   * of `pipeline` unchanged. `'skip'`: drop the item and count it in `skipped`. A function: its
   * return value replaces the item's result (`undefined` drops it).
   * @default 'fail'
   */
  onError?: OnError<I, O>;
}

const WHERE = 'parallel()';

/** The worker pool behind {@link parallel}: sluice's engine running `fn` on up to `concurrency` items at once. */
export class Parallel<I = unknown, O = unknown> extends Engine implements TypedDuplex<I, O> {
  declare readonly [itemTypes]?: { in: (value: I) => void; out: O };

  constructor(fn: (item: I, ctx: StageContext) => unknown, options?: ParallelOptions<I, O>) {
    check.func(WHERE, 'fn', fn);
    const opts = check.options(WHERE, options, 'options', [...check.STAGE_KEYS, 'concurrency', 'ordered', 'timeout', 'retry', 'onError']);
    const stage = stageOptions(WHERE, opts);
    const timeout = opts.timeout === undefined ? undefined : check.delay(WHERE, 'options.timeout', opts.timeout);
    // The counters exist once the engine does: retries are counted from then on (no call runs before).
    let counters: Counters | undefined;
    const step = attempt(fn as StepFn, {
      timeout,
      backoff: backoff(WHERE, opts.retry),
      where: WHERE,
      onRetry: () => void (counters !== undefined && counters.retries++),
    });
    super([{ kind: 'map', fn: step }], { ...stage, ...poolOptions(WHERE, opts, 8), name: stage.name ?? `parallel(${fn.name || 'fn'})` });
    counters = this.counters;
  }
}

/**
 * The worker pool as a stream: runs `fn` on up to `concurrency` items at once, with backpressure
 * (no new call starts while `concurrency` calls are running or waiting for their turn, or while
 * downstream is full), per-call `timeout`, retries with exponential backoff, and errgroup-style failure.
 * Up to `concurrency` items wait in a queue, so a finished call starts the next one at once; finished
 * results are passed on together right after the callbacks that finished them (in a `setImmediate`),
 * and the queue is refilled from upstream then.
 *
 * `fn(item, { signal, index })` may be sync or async. Its `signal` aborts when the stage is
 * destroyed (an error anywhere in the pipeline, an abort, `take` ending it) or when the call's
 * `timeout` runs out. A result of `undefined` (or `null`) passes nothing on. With `ordered` (the default) the
 * output keeps the input's order and holds at most `concurrency` results back.
 *
 * @typeParam I The items written in.
 * @typeParam O What `fn` resolves to.
 * @param fn Called as `fn(item, { signal, index })`.
 * @param options See {@link ParallelOptions}.
 * @returns A Duplex, with a `skipped` count.
 * @throws {TypeError | RangeError} When `fn` is not a function or an option is invalid.
 *
 * @example Four at a time, in order
 * ```ts
 * import { parallel, toArray } from 'sluice';
 * import { setTimeout as sleep } from 'node:timers/promises';
 * const out = await toArray([30, 10, 20], parallel(async (ms: number, { signal }) => {
 *   await sleep(ms, undefined, { signal });
 *   return ms;
 * }, { concurrency: 4 }));
 * assert.deepEqual(out, [30, 10, 20]);
 * ```
 *
 * @example Retries, then skip what still fails
 * ```ts
 * import { parallel, toArray } from 'sluice';
 * let tries = 0;
 * const p = parallel(async (n: number) => {
 *   if (n === 2 && ++tries < 3) throw new Error('flaky');
 *   if (n === 3) throw new Error('broken');
 *   return n;
 * }, { retry: { retries: 2, minDelay: 1 }, onError: 'skip' });
 * assert.deepEqual(await toArray([1, 2, 3], p), [1, 2]);
 * assert.equal(p.skipped, 1);
 * ```
 */
export function parallel<I, O>(
  fn: (item: I, ctx: StageContext) => O | PromiseLike<O>,
  options?: ParallelOptions<I, Awaited<O>>,
): Parallel<I, Exclude<Awaited<O>, undefined | null>> {
  return new Parallel(fn, options as ParallelOptions<I, Exclude<Awaited<O>, undefined | null>>);
}
