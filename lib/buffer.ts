import { Duplex } from 'node:stream';
import { BufferOverflowError } from './errors.js';
import { Checkpoint, isCheckpoint, passesCheckpoints } from './internal/checkpoint.js';
import { bindSignal, failWith, stageOptions, type ResolvedStageOptions, type StageOptions } from './internal/stage-options.js';
import { count, type Counters, type StageStats } from './internal/stats.js';
import type { itemTypes, TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

/** What {@link buffer} does with an item that arrives while it holds `size` items. */
export type BufferOverflow = 'block' | 'drop-newest' | 'drop-oldest' | 'error';

/** Options for {@link buffer}. */
export interface BufferOptions<T = unknown> extends Pick<StageOptions, 'signal' | 'name'> {
  /**
   * What happens to an item that arrives while `size` items are held. `'block'`: it waits, and so does
   * upstream (backpressure, as at any stage). `'drop-newest'`: that item is dropped. `'drop-oldest'`:
   * the oldest item held is dropped to make room. `'error'`: the stage fails with a
   * `BufferOverflowError`. Dropped items are counted in `dropped` (and `stats().dropped`) and given to `onDrop`.
   * @default 'block'
   */
  overflow?: BufferOverflow;
  /**
   * Called with each dropped item as it is dropped. What it throws fails the stage with that very error.
   * @default undefined
   */
  onDrop?: (item: T) => void;
}

type Callback = (error?: Error | null) => void;

const WHERE = 'buffer()';
const POLICIES = ['block', 'drop-newest', 'drop-oldest', 'error'] as const;

/** Two checkpoints with nothing left between them: one that resolves both, in order. */
function fuse(first: Checkpoint, second: Checkpoint): Checkpoint {
  return new Checkpoint(() => {
    first.resolve();
    second.resolve();
  });
}

/**
 * The stage behind {@link buffer}. Its readable side keeps no buffer of its own (highWaterMark 0): an
 * item leaves the queue only when the consumer asks for it, so every item held can still be dropped,
 * and what is held is what `size` bounds.
 */
export class BufferStage<T = unknown> extends Duplex implements TypedDuplex<T, T> {
  declare readonly [itemTypes]?: { in: (value: T) => void; out: T };
  readonly #size: number;
  readonly #overflow: BufferOverflow;
  readonly #onDrop: ((item: T) => void) | undefined;
  /**
   * Items and checkpoints held, oldest first, from `#head` on. Checkpoints that meet are fused, so
   * there are never more than `size` + 1 of them, whatever is dropped between them.
   */
  #queue: unknown[] = [];
  #head = 0;
  /** Items held (checkpoints aside): at most `size`. */
  #items = 0;
  readonly #counters: Counters;
  /** Counters and times of this stage: see `StageStats` (`dropped`: items its overflow dropped). */
  declare stats: () => StageStats;
  /** The consumer asked for an item that was not given yet. */
  #wanted = false;
  /** `'block'`: the callback of the write that filled the queue, called once there is room. */
  #blocked: Callback | undefined;
  /** `_final`'s callback, called once the queue is empty. */
  #final: Callback | undefined;

  constructor(size: number, overflow: BufferOverflow, onDrop: ((item: T) => void) | undefined, options: ResolvedStageOptions) {
    // With a dropping policy every write is called back at once, so upstream is never paused; with
    // 'block', Node's writable side holds at most one more item while the queue is full.
    super({ objectMode: true, readableHighWaterMark: 0, writableHighWaterMark: 2 });
    this.#size = size;
    this.#overflow = overflow;
    this.#onDrop = onDrop;
    // Blocked while it holds items: the consumer has not asked for them (its readable side buffers nothing).
    this.#counters = count(this, options.name ?? 'buffer', { blocked: () => this.#head < this.#queue.length, busy: () => false });
    bindSignal(this, options.signal);
  }

  /** Checkpoints are never dropped and pass on in order. */
  get [passesCheckpoints](): boolean {
    return true;
  }

  /** Items dropped so far by `'drop-newest'` or `'drop-oldest'`. */
  get dropped(): number {
    return this.#counters.dropped;
  }

  override _write(item: unknown, _encoding: BufferEncoding, callback: Callback): void {
    if (isCheckpoint(item)) {
      const last = this.#queue.length - 1;
      const tail = last >= this.#head ? this.#queue[last] : undefined;
      if (isCheckpoint(tail)) this.#queue[last] = fuse(tail, item);
      else this.#queue.push(item);
      this.#pump();
      callback();
      return;
    }
    this.#counters.start();
    this.#counters.itemsIn++;
    if (this.#items === this.#size) {
      // Only a dropping policy or 'error' gets here: 'block' holds the callback of the write that filled the queue.
      if (this.#overflow === 'error') {
        callback(new BufferOverflowError(this.#size));
        return;
      }
      const newest = this.#overflow === 'drop-newest';
      this.#drop(newest ? item : this.#oldest());
      if (newest || this.destroyed) {
        callback();
        return;
      }
    }
    this.#queue.push(item);
    this.#items++;
    this.#pump();
    if (this.#overflow === 'block' && this.#items === this.#size) this.#blocked = callback;
    else callback();
  }

  override _final(callback: Callback): void {
    this.#final = callback;
    this.#pump();
  }

  override _read(): void {
    this.#wanted = true;
    this.#pump();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.#queue = [];
    this.#head = this.#items = 0;
    this.#blocked = this.#final = undefined;
    callback(error);
  }

  /** Gives the consumer what it asked for; then lets a blocked write in, or ends once the queue is empty. */
  #pump(): void {
    while (this.#wanted && this.#head < this.#queue.length) {
      const entry = this.#take();
      if (!isCheckpoint(entry)) {
        this.#items--;
        this.#counters.itemsOut++;
      }
      this.#wanted = this.push(entry);
    }
    // Reclaims the slots taken: all of them once the queue is empty, else once they are most of the
    // array (amortised O(1) per entry).
    if (this.#head > 0 && this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && 2 * this.#head > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    const blocked = this.#blocked;
    if (blocked !== undefined && this.#items < this.#size) {
      this.#blocked = undefined;
      blocked();
    }
    const final = this.#final;
    if (final !== undefined && this.#head === this.#queue.length) {
      this.#final = undefined;
      this.push(null);
      final();
    }
  }

  #take(): unknown {
    const entry = this.#queue[this.#head];
    this.#queue[this.#head++] = undefined;
    return entry;
  }

  /**
   * Removes the oldest item held. A checkpoint before it moves up into its place (fused checkpoints
   * never meet, so the entry after a checkpoint is an item), fused with a checkpoint that follows.
   */
  #oldest(): unknown {
    this.#items--;
    const queue = this.#queue;
    const i = this.#head;
    const first = queue[i];
    if (!isCheckpoint(first)) return this.#take();
    const item = queue[i + 1];
    queue[i + 1] = first;
    this.#take();
    const next = queue[i + 2];
    if (i + 2 < queue.length && isCheckpoint(next)) {
      queue[i + 2] = fuse(first, next);
      this.#take();
    }
    return item;
  }

  #drop(item: unknown): void {
    this.#counters.dropped++;
    try {
      this.#onDrop?.(item as T);
    } catch (error) {
      failWith(this, error);
    }
  }
}

/**
 * Holds up to `size` items between a bursty producer and a slow consumer. While there is room, items
 * are taken at once; what happens to an item that arrives while `size` items are held is the
 * `overflow` policy: `'block'` (backpressure: upstream waits, nothing is lost), `'drop-newest'`,
 * `'drop-oldest'` (keep the freshest items: a bounded "latest values" queue) or `'error'`.
 *
 * With a dropping policy upstream is never paused, so memory stays bounded by `size` whatever the
 * producer does. Dropped items are counted in `dropped` and given to `onDrop`; items written in equal
 * items passed on plus items dropped. Items keep their order. Checkpoints are never dropped, count
 * for nothing in `size`, and pass on in order: a checkpoint whose earlier items were all dropped
 * passes on next.
 *
 * The readable side keeps no buffer of its own: the consumer gets the oldest item held when it asks.
 * Put it right before the slow consumer: what a consumer has taken into its own buffer is out of
 * reach. When the input ends, the stage ends once the consumer has read everything held. An error thrown by
 * `onDrop`, an overflow with `'error'`, or a destroy (an abort of `options.signal`, an error elsewhere
 * in the pipeline) discards what is held; there is no timer to clear.
 *
 * @typeParam T The items.
 * @param size Most items held: an integer >= 1.
 * @param options `overflow`, `onDrop`, `signal` and `name`; see {@link BufferOptions}.
 * @returns A Duplex, with a `dropped` count and `stats()`.
 * @throws {TypeError} When `size` or an option has the wrong type, or an option is unknown.
 * @throws {RangeError} When `size` is not an integer >= 1.
 *
 * @example Keep the newest three
 * ```ts
 * import { buffer, toArray } from 'sluice';
 * const dropped: number[] = [];
 * const stage = buffer<number>(3, { overflow: 'drop-oldest', onDrop: (n) => dropped.push(n) });
 * // Written all at once, before anything reads: only the last three stay.
 * for (const n of [1, 2, 3, 4, 5, 6]) stage.write(n);
 * stage.end();
 * assert.deepEqual(await toArray(stage), [4, 5, 6]);
 * assert.deepEqual(dropped, [1, 2, 3]);
 * assert.equal(stage.dropped, 3);
 * ```
 *
 * @example Fail instead of waiting
 * ```ts
 * import { buffer, BufferOverflowError } from 'sluice';
 * const stage = buffer<string>(2, { overflow: 'error' });
 * const failed = new Promise((resolve) => stage.once('error', resolve));
 * for (const s of ['a', 'b', 'c']) stage.write(s);
 * const error = await failed;
 * assert.ok(error instanceof BufferOverflowError);
 * assert.equal(error.code, 'ERR_SLUICE_BUFFER_OVERFLOW');
 * assert.equal(error.size, 2);
 * ```
 */
export function buffer<T>(size: number, options?: BufferOptions<T>): BufferStage<T> {
  check.integer(WHERE, 'size', size, 1);
  const opts = check.options(WHERE, options, 'options', ['overflow', 'onDrop', 'signal', 'name']);
  const overflow = opts.overflow === undefined ? 'block' : check.oneOf(WHERE, 'options.overflow', opts.overflow, POLICIES);
  const onDrop = opts.onDrop === undefined ? undefined : check.func<(item: T) => void>(WHERE, 'options.onDrop', opts.onDrop);
  return new BufferStage<T>(size, overflow, onDrop, stageOptions(WHERE, opts));
}
