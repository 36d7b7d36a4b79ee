import { Duplex } from 'node:stream';
import { bindSignal, stageOptions, type StageOptions } from './internal/stage-options.js';
import { endsEarly } from './internal/streams.js';
import { Checkpoint, passesCheckpoints } from './internal/checkpoint.js';
import { count, type StageStats } from './internal/stats.js';
import type { TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

/** Options for {@link take}. */
export interface TakeOptions extends StageOptions {}

class Take extends Duplex {
  #left: number;
  readonly #counters = count(this, 'take');
  /** Counters and times of this stage: see `StageStats`. */
  declare stats: () => StageStats;

  constructor(n: number, opts: ReturnType<typeof stageOptions>) {
    super({ objectMode: true, readableHighWaterMark: opts.readableHighWaterMark, writableHighWaterMark: opts.writableHighWaterMark });
    this.#left = n;
    if (n === 0) this.push(null);
    // Once downstream has everything, nothing more is wanted from upstream: closing here lets
    // `pipeline` end the stages before this one.
    this.once('end', () => this.destroy());
    bindSignal(this, opts.signal);
  }

  [endsEarly](): boolean {
    return this.#left === 0;
  }

  /** Passes checkpoints on in order while it takes items (see checkpoint.ts). */
  get [passesCheckpoints](): boolean {
    return true;
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // Past the limit, hold the callback: upstream stalls until pipeline ends it, instead of being
    // drained for nothing (and a synchronous source would spin without yielding).
    if (this.#left === 0) return;
    if (chunk instanceof Checkpoint) {
      this.push(chunk);
      callback();
      return;
    }
    this.#left--;
    this.#counters.start();
    this.#counters.itemsIn++;
    this.#counters.itemsOut++;
    this.push(chunk);
    if (this.#left === 0) this.push(null);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#left > 0) this.push(null);
    callback();
  }

  override _read(): void {}
}

/**
 * Passes on the first `n` items, then ends. Inside {@link pipeline} (or {@link chain}) the stages
 * before it are then ended too, so a large or endless source stops being read: `take(10)` behind a
 * 10 GB file reads only the first chunks. Stages after it finish their work normally. As the last
 * stage of a pipeline, the items it passes on are dropped and the pipeline resolves.
 *
 * @typeParam T The items.
 * @param n How many items to pass on (0 ends at once).
 * @param options Buffering and cancellation; see {@link TakeOptions}.
 * @returns A Duplex.
 * @throws {RangeError} When `n` is not an integer >= 0.
 *
 * @example The first three of an endless source
 * ```ts
 * import { pipeline, take, toArray } from 'sluice';
 * function* naturals() { for (let i = 0; ; i++) yield i; }
 * assert.deepEqual(await toArray(naturals(), take(3)), [0, 1, 2]);
 * ```
 */
export function take<T>(n: number, options?: TakeOptions): TypedDuplex<T, T> {
  check.integer('take()', 'n', n, 0);
  return new Take(n, stageOptions('take()', check.options('take()', options)));
}
