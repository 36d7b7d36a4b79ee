import { Transform, type TransformCallback } from 'node:stream';
import { Checkpoint, passesCheckpoints } from './internal/checkpoint.js';
import { count, type Counters, type StageStats } from './internal/stats.js';
import { stageOptions, bindSignal, type StageOptions } from './internal/stage-options.js';
import type { TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

/** Options for {@link batch}. */
export interface BatchOptions extends StageOptions {
  /**
   * Milliseconds a partial batch may wait for more items, counted from its first item; then it is
   * emitted as it is. A number > 0 and <= 2^31 - 1 (setTimeout's limit). Unset, a batch waits until it
   * is full or the input ends.
   * @default undefined
   */
  maxWait?: number;
}

const WHERE = 'batch()';

/**
 * Groups items into arrays of `size` items. The last batch, emitted when the input ends, may be
 * shorter; with `maxWait`, so may a batch whose first item has waited `maxWait` ms. No empty batch
 * is ever emitted, and items keep their order.
 *
 * `highWaterMark` counts items on the writable side and batches on the readable side. The `maxWait`
 * timer runs only while a partial batch is waiting; destroying the stage (an error, an abort of
 * `options.signal`, an early end downstream) clears it and drops the partial batch.
 *
 * @typeParam T The items grouped.
 * @param size Items per batch: an integer >= 1.
 * @param options `maxWait`, plus buffering and cancellation. See {@link BatchOptions}.
 * @returns An object-mode Transform from items to arrays of items.
 * @throws {TypeError} When `size` or an option has the wrong type.
 * @throws {RangeError} When `size` is not an integer >= 1, or `maxWait` not a number > 0 and <= 2^31 - 1.
 *
 * @example Groups of three
 * ```ts
 * import { batch, toArray } from 'sluice';
 * const batches = await toArray([1, 2, 3, 4, 5, 6, 7], batch<number>(3));
 * assert.deepEqual(batches, [[1, 2, 3], [4, 5, 6], [7]]);
 * ```
 *
 * @example A slow source: flush what is there after 20 ms
 * ```ts
 * import { batch, toArray } from 'sluice';
 * async function* slow() {
 *   yield 'a';
 *   yield 'b';
 *   await new Promise((resolve) => setTimeout(resolve, 100));
 *   yield 'c';
 * }
 * const batches = await toArray(slow(), batch<string>(10, { maxWait: 20 }));
 * assert.deepEqual(batches, [['a', 'b'], ['c']]);
 * ```
 */
export function batch<T>(size: number, options?: BatchOptions): TypedDuplex<T, T[]> & Transform {
  check.integer(WHERE, 'size', size, 1);
  const opts = check.options(WHERE, options);
  const maxWait = opts.maxWait === undefined ? undefined : check.delay(WHERE, 'options.maxWait', opts.maxWait);
  const stage = stageOptions(WHERE, opts);
  const stream = new Batch<T>(size, maxWait, stage.readableHighWaterMark, stage.writableHighWaterMark);
  bindSignal(stream, stage.signal);
  return stream;
}

class Batch<T> extends Transform {
  readonly #size: number;
  readonly #maxWait: number | undefined;
  #current: T[] = [];
  #timer: NodeJS.Timeout | undefined;
  // The partial batch's time is up, but the readable side was full: emit it when the consumer reads.
  #overdue = false;
  readonly #counters: Counters;

  constructor(size: number, maxWait: number | undefined, readableHighWaterMark: number, writableHighWaterMark: number) {
    super({ objectMode: true, readableHighWaterMark, writableHighWaterMark });
    this.#size = size;
    this.#maxWait = maxWait;
    this.#counters = count(this, 'batch');
  }

  /** Counters and times of this stage: see `StageStats` (items out are batches). */
  declare stats: () => StageStats;

  /** Passes checkpoints on in order: one sends the partial batch before it on at once (see checkpoint.ts). */
  get [passesCheckpoints](): boolean {
    return true;
  }

  override _transform(item: T, _enc: BufferEncoding, callback: TransformCallback): void {
    if (item instanceof Checkpoint) {
      // Held back behind a partial batch, it could wait for items its source sends only once it is
      // resolved: the partial batch goes now.
      if (this.#current.length > 0 || this.#overdue) this.push(this.#take());
      callback(null, item);
      return;
    }
    this.#counters.start();
    this.#counters.itemsIn++;
    this.#current.push(item);
    if (this.#current.length >= this.#size) {
      callback(null, this.#take());
      return;
    }
    if (this.#maxWait !== undefined && this.#timer === undefined && !this.#overdue) {
      this.#timer = setTimeout(() => this.#onTimeout(), this.#maxWait);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.#current.length > 0 ? this.#take() : undefined);
  }

  override _read(size: number): void {
    if (this.#overdue) this.push(this.#take());
    super._read(size);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#take();
    callback(err);
  }

  #onTimeout(): void {
    this.#timer = undefined;
    // Pushing past a full buffer would let partial batches pile up behind a stalled consumer, since
    // upstream is only held back when a full batch cannot be pushed.
    if (this.readableLength < this.readableHighWaterMark) this.push(this.#take());
    else this.#overdue = true;
  }

  #take(): T[] {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#overdue = false;
    if (this.#current.length > 0) this.#counters.itemsOut++;
    const full = this.#current;
    this.#current = [];
    return full;
  }
}
