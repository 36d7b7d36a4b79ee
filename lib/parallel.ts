import { Duplex } from 'node:stream';
import { TimeoutError } from './errors.js';
import type { StageContext } from './internal/engine.js';
import { backoff, type Backoff, type RetryOptions } from './internal/backoff.js';
import { bindSignal, destroyReason, stageOptions, type StageOptions } from './internal/stage-options.js';
import type { TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

export type { RetryOptions };

/** What to do with an item whose call failed (after its retries). */
export type OnError<I, O> = 'fail' | 'skip' | ((error: unknown, item: I) => O | undefined);

/** Options for {@link parallel}. */
export interface ParallelOptions<I = unknown, O = unknown> extends StageOptions {
  /** Most calls in flight at once. @default 8 */
  concurrency?: number;
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

type Callback = (error?: Error | null) => void;
type Fn = (item: unknown, ctx: StageContext) => unknown;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** The worker pool behind {@link parallel}. `skipped` counts items dropped by `onError: 'skip'`. */
export class Parallel extends Duplex {
  readonly #fn: Fn;
  readonly #concurrency: number;
  readonly #ordered: boolean;
  readonly #timeout: number | undefined;
  readonly #backoff: Backoff;
  readonly #onError: OnError<unknown, unknown>;
  readonly #controller = new AbortController();
  readonly #shared: StageContext = { signal: this.#controller.signal, index: 0 };
  /** Calls whose own controller (for a timeout) must be aborted with the stage. */
  readonly #calls = new Set<AbortController>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Finished results not yet passed on: waiting for the next flush, or (ordered) for the ones before them. */
  readonly #done = new Map<number, unknown>();
  /** Items taken in and not started yet (at most `concurrency`): a finished call starts the next at once. */
  readonly #queue: unknown[] = [];
  #seq = 0;
  /** The next result to pass on. */
  #next = 0;
  /** Ordered mode: every result before this one has finished (those from #next on wait for a flush). */
  #readyEnd = 0;
  /** Calls in flight, or waiting to be retried. */
  #inflight = 0;
  /** The flush of finished results, scheduled for after the timers and I/O callbacks now running. */
  #flushing: NodeJS.Immediate | undefined;
  #full = false;
  #heldWrite: Callback | undefined;
  #heldFinal: Callback | undefined;
  #skipped = 0;

  constructor(fn: Fn, options: ParallelOptions) {
    const opts = stageOptions('parallel()', options);
    super({ objectMode: true, readableHighWaterMark: opts.readableHighWaterMark, writableHighWaterMark: opts.writableHighWaterMark });
    this.#fn = fn;
    this.#concurrency = options.concurrency === undefined ? 8 : check.integer('parallel()', 'options.concurrency', options.concurrency, 1);
    this.#ordered = options.ordered === undefined ? true : check.boolean('parallel()', 'options.ordered', options.ordered);
    this.#timeout = options.timeout === undefined ? undefined : check.number('parallel()', 'options.timeout', options.timeout, 0, true);
    this.#backoff = backoff('parallel()', options.retry);
    const onError = options.onError ?? 'fail';
    if (typeof onError !== 'function') check.oneOf('parallel()', 'options.onError', onError, ['fail', 'skip'] as const);
    this.#onError = onError;
    bindSignal(this, opts.signal);
  }

  /** Items dropped because their call failed and `onError` is `'skip'`. */
  get skipped(): number {
    return this.#skipped;
  }

  override _write(item: unknown, _encoding: BufferEncoding, callback: Callback): void {
    this.#queue.push(item);
    this.#pump();
    if (this.#queue.length < this.#concurrency) callback();
    else this.#heldWrite = callback;
  }

  override _final(callback: Callback): void {
    if (this.#idle()) this.#end(callback);
    else this.#heldFinal = callback;
  }

  override _read(): void {
    this.#full = false;
    this.#flush();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    const reason = destroyReason(error);
    this.#controller.abort(reason);
    for (const call of this.#calls) call.abort(reason);
    for (const timer of this.#timers) clearTimeout(timer);
    clearImmediate(this.#flushing);
    this.#calls.clear();
    this.#timers.clear();
    this.#done.clear();
    this.#queue.length = 0;
    this.#heldWrite = this.#heldFinal = undefined;
    callback(error);
  }

  #try(item: unknown, seq: number, attempt: number): void {
    if (this.#timeout !== undefined) {
      this.#tryWithTimeout(item, seq, attempt, this.#timeout);
      return;
    }
    const fn = this.#fn;
    let result: unknown;
    try {
      // As in the engine: a function that declares no second parameter gets a reused context object.
      const shared = this.#shared;
      if (fn.length < 2) shared.index = seq;
      result = fn(item, fn.length < 2 ? shared : { signal: this.#controller.signal, index: seq });
    } catch (error) {
      this.#failed(item, seq, attempt, error);
      return;
    }
    if (!isThenable(result)) {
      this.#finished(seq, result);
      return;
    }
    result.then(
      (value) => {
        if (!this.destroyed) this.#finished(seq, value);
      },
      (error: unknown) => {
        if (!this.destroyed) this.#failed(item, seq, attempt, error);
      },
    );
  }

  /** A try with its own controller and timer: the call fails with a `TimeoutError` when time runs out. */
  #tryWithTimeout(item: unknown, seq: number, attempt: number, timeout: number): void {
    const call = new AbortController();
    let settled = false;
    const settle = (): boolean => {
      if (settled || this.destroyed) return false;
      settled = true;
      clearTimeout(timer);
      this.#timers.delete(timer);
      this.#calls.delete(call);
      return true;
    };
    this.#calls.add(call);
    const timer = setTimeout(() => {
      const error = new TimeoutError(`parallel(): the call for item ${seq}`, timeout);
      call.abort(error);
      if (settle()) this.#failed(item, seq, attempt, error);
    }, timeout);
    this.#timers.add(timer);
    Promise.resolve()
      .then(() => this.#fn(item, { signal: call.signal, index: seq }))
      .then(
        (value) => {
          if (settle()) this.#finished(seq, value);
        },
        (error: unknown) => {
          if (settle()) this.#failed(item, seq, attempt, error);
        },
      );
  }

  #failed(item: unknown, seq: number, attempt: number, error: unknown): void {
    const retry = this.#backoff;
    let again: boolean;
    try {
      again = attempt <= retry.retries && retry.retryIf(error, attempt);
    } catch (thrown) {
      this.destroy(thrown as Error);
      return;
    }
    if (again) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#try(item, seq, attempt + 1);
      }, retry.delay(attempt));
      this.#timers.add(timer);
      return;
    }
    const onError = this.#onError;
    if (onError === 'fail') {
      this.destroy(error as Error);
    } else if (onError === 'skip') {
      this.#skipped++;
      this.#finished(seq, undefined);
    } else {
      let replacement: unknown;
      try {
        replacement = onError(error, item);
      } catch (thrown) {
        this.destroy(thrown as Error);
        return;
      }
      this.#finished(seq, replacement);
    }
  }

  /**
   * Room for another call: calls in flight plus results held back for order stay under `concurrency`
   * (so the reorder buffer holds at most that many), and results waiting for the flush under as many
   * again (a synchronous `fn` would otherwise fill the map before the flush runs).
   */
  #canStart(): boolean {
    const done = this.#done.size;
    const heldForOrder = this.#ordered ? done - (this.#readyEnd - this.#next) : 0;
    return this.#inflight + heldForOrder < this.#concurrency && done < 2 * this.#concurrency && !this.#full;
  }

  /** Starts queued items while there is room. */
  #pump(): void {
    const queue = this.#queue;
    while (queue.length > 0 && this.#canStart()) {
      this.#inflight++;
      this.#try(queue.shift(), this.#seq++, 1);
    }
  }

  #idle(): boolean {
    return this.#inflight === 0 && this.#done.size === 0 && this.#queue.length === 0;
  }

  // A finished call frees its place at once and the next queued item starts right away; its result is
  // passed on, and the queue refilled from upstream, in a flush after the callbacks now running. When
  // many calls finish together (timers due in the same millisecond), every next call starts before
  // any other stream work is done: that keeps the pool close to a bare promise pool.
  #finished(seq: number, value: unknown): void {
    this.#inflight--;
    const done = this.#done;
    done.set(seq, value);
    if (seq === this.#readyEnd) while (done.has(this.#readyEnd)) this.#readyEnd++;
    this.#flushing ??= setImmediate(this.#flush);
    this.#pump();
  }

  /** Passes on finished results, in order when ordered, until downstream is full. */
  readonly #flush = (): void => {
    this.#flushing = undefined;
    const done = this.#done;
    if (this.#ordered) {
      while (!this.#full && this.#next < this.#readyEnd) {
        const value = done.get(this.#next);
        done.delete(this.#next++);
        this.#emit(value);
      }
    } else {
      for (const [seq, value] of done) {
        if (this.#full) break;
        done.delete(seq);
        this.#emit(value);
      }
    }
    this.#release();
  };

  #emit(value: unknown): void {
    // `null` would end the stream: it is dropped like `undefined`.
    if (value !== undefined && value !== null && !this.push(value)) this.#full = true;
  }

  #release(): void {
    this.#pump();
    const write = this.#heldWrite;
    if (write !== undefined && this.#queue.length < this.#concurrency) {
      this.#heldWrite = undefined;
      write();
    }
    const final = this.#heldFinal;
    if (final !== undefined && this.#idle()) {
      this.#heldFinal = undefined;
      this.#end(final);
    }
  }

  #end(callback: Callback): void {
    this.push(null);
    callback();
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
): TypedDuplex<I, Exclude<Awaited<O>, undefined | null>> & Parallel {
  check.func('parallel()', 'fn', fn);
  return new Parallel(fn as Fn, check.options('parallel()', options) as ParallelOptions) as TypedDuplex<I, Exclude<Awaited<O>, undefined | null>> & Parallel;
}
