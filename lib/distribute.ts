import { Duplex } from 'node:stream';
import { Merge } from './merge.js';
import { Checkpoint, Markers, passesCheckpoints, passesOn } from './internal/checkpoint.js';
import { count, type StageStats } from './internal/stats.js';
import { bindSignal, stageOptions, type StageOptions } from './internal/stage-options.js';
import { closed, isNodeStream } from './internal/streams.js';
import type { TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

/** Options for {@link distribute}. */
export interface DistributeOptions extends StageOptions {}

type Callback = (error?: Error | null) => void;

/** The work fan-out behind {@link distribute}. */
export class Distribute extends Duplex {
  readonly #workers: Duplex[];
  readonly #out: Merge;
  #next = 0;
  #held: Callback | undefined;
  /** A checkpoint's copies still inside the workers, by copy: the original passes on when none is left. */
  readonly #markers = new Markers();
  readonly #counters = count(this, 'distribute');
  /** Counters and times of this stage: see `StageStats`. */
  declare stats: () => StageStats;

  constructor(workers: Duplex[], options: DistributeOptions) {
    const opts = stageOptions('distribute()', options);
    super({ objectMode: true, readableHighWaterMark: opts.readableHighWaterMark, writableHighWaterMark: opts.writableHighWaterMark });
    this.#workers = workers;
    const out = new Merge(workers, { highWaterMark: opts.readableHighWaterMark });
    this.#out = out;
    for (const worker of workers) {
      worker.on('error', (error: Error) => this.destroy(error));
      worker.on('drain', this.#drained);
    }
    out.on('error', (error: Error) => this.destroy(error));
    out.on('data', (data: unknown) => {
      const item = this.#markers.arrived(data);
      if (item === undefined) return;
      if (!(item instanceof Checkpoint)) this.#counters.itemsOut++;
      if (!this.push(item)) out.pause();
    });
    out.once('end', () => this.push(null));
    bindSignal(this, opts.signal);
  }

  /** Passes checkpoints on in order, once every worker has passed on what it was given before (see checkpoint.ts). */
  get [passesCheckpoints](): boolean {
    return true;
  }

  override _write(item: unknown, encoding: BufferEncoding, callback: Callback): void {
    if (item instanceof Checkpoint) {
      this.#checkpoint(item, callback);
      return;
    }
    const worker = this.#pick();
    if (worker !== undefined) {
      this.#counters.start();
      this.#counters.itemsIn++;
    }
    if (worker === undefined) {
      // Every worker is full: wait for the first 'drain', then pick again.
      this.#held = () => this._write(item, encoding, callback);
      return;
    }
    worker.write(item, encoding);
    callback();
  }

  /** A copy to every worker (written even past its highWaterMark: it holds no item), as a marker of position. */
  #checkpoint(checkpoint: Checkpoint, callback: Callback): void {
    const blind = this.#workers.findIndex((worker) => !passesOn(worker));
    if (blind !== -1) {
      callback(
        new TypeError(
          `distribute(): worker ${blind} (${this.#workers[blind]!.constructor.name}) does not pass checkpoints on; with a source that acknowledges its items, every worker must be a sluice stage`,
        ),
      );
      return;
    }
    this.#markers.send(checkpoint, this.#workers);
    callback();
  }

  override _final(callback: Callback): void {
    // Finished once every worker has taken every item: a failure after that would come too late for
    // a pipeline that ends here.
    let left = this.#workers.length;
    const done = (): void => {
      if (--left === 0) callback();
    };
    for (const worker of this.#workers) {
      if (worker.writableFinished) done();
      else worker.once('finish', done).end();
    }
  }

  override _read(): void {
    this.#out.resume();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.#held = undefined;
    if (!this.#out.destroyed) this.#out.destroy(error ?? undefined);
    for (const worker of this.#workers) if (!worker.destroyed) worker.destroy(error ?? undefined);
    Promise.all(this.#workers.map(closed)).then(() => callback(error));
  }

  /** The least busy worker that can take an item now, starting after the last one picked. */
  #pick(): Duplex | undefined {
    const workers = this.#workers;
    let best: Duplex | undefined;
    for (let k = 0; k < workers.length; k++) {
      const i = (this.#next + k) % workers.length;
      const worker = workers[i]!;
      if (worker.writableNeedDrain) continue;
      if (best === undefined || worker.writableLength < best.writableLength) best = worker;
      if (worker.writableLength === 0) break;
    }
    if (best !== undefined) this.#next = (workers.indexOf(best) + 1) % workers.length;
    return best;
  }

  readonly #drained = (): void => {
    const retry = this.#held;
    this.#held = undefined;
    retry?.();
  };
}

/**
 * Fan-out of WORK, as Go's N workers reading one channel: builds `n` sub-pipelines with
 * `factory(i)`, sends each item to exactly one of them (the least busy), and merges their outputs
 * (in completion order) into the returned Duplex.
 *
 * Backpressure holds end to end: when every worker is full, writing waits for one to drain; the
 * workers' outputs are read only as fast as the result is read. Its writable side finishes once
 * every worker's has. An error in any worker destroys every worker and the whole; destroying the
 * whole destroys every worker.
 *
 * @typeParam I The items written in.
 * @typeParam O The items the workers give.
 * @param n How many workers.
 * @param factory Builds worker `i` (0-based): any Duplex, e.g. a `chain()` or `parallel()`.
 * @param options Buffering and cancellation; see {@link DistributeOptions}.
 * @returns A Duplex.
 * @throws {RangeError} When `n` is not an integer >= 1.
 * @throws {TypeError} When `factory` is not a function or does not return a Duplex.
 *
 * @example Three workers
 * ```ts
 * import { distribute, map, toArray } from 'sluice';
 * const out = await toArray([1, 2, 3, 4, 5, 6], distribute(3, () => map((n: number) => n * n)));
 * assert.deepEqual(out.sort((a, b) => a - b), [1, 4, 9, 16, 25, 36]);
 * ```
 */
export function distribute<I, O>(
  n: number,
  factory: (index: number) => TypedDuplex<I, O> | Duplex,
  options?: DistributeOptions,
): TypedDuplex<I, O> & Distribute {
  check.integer('distribute()', 'n', n, 1);
  check.func('distribute()', 'factory', factory);
  const opts = check.options('distribute()', options);
  const workers: Duplex[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const worker = factory(i);
      if (!isNodeStream(worker) || typeof worker.write !== 'function' || typeof worker.read !== 'function') {
        throw new TypeError(`distribute(): factory(${i}) must return a Duplex, got ${check.describe(worker)}`);
      }
      workers.push(worker);
    }
    return new Distribute(workers, opts) as TypedDuplex<I, O> & Distribute;
  } catch (error) {
    // The workers already built (a later factory call or an option failed) would be left open.
    for (const worker of workers) worker.destroy();
    throw error;
  }
}
