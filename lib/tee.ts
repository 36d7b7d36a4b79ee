import { Duplex, type DuplexOptions, type Writable } from 'node:stream';
import { SluiceError } from './errors.js';
import { Checkpoint, handles, passesCheckpoints } from './internal/checkpoint.js';
import { count, type StageStats } from './internal/stats.js';
import { bindSignal, stageOptions, type StageOptions } from './internal/stage-options.js';
import { closed, hasClosed, isNodeStream } from './internal/streams.js';
import type { TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

/** Options for {@link tee}. */
export interface TeeOptions extends StageOptions {
  /**
   * `'fail'`: an error in one destination destroys every destination and the tee with that error.
   * `'detach'`: the failing destination is dropped (a `'detach'` event gives the error and its
   * index) and the others go on.
   * @default 'fail'
   */
  onError?: 'fail' | 'detach';
  /** Also pass every item on, as a Duplex, once every destination has accepted it. @default false */
  passThrough?: boolean;
}

type Callback = (error?: Error | null) => void;

/** The broadcast behind {@link tee}. */
export class Tee extends Duplex {
  readonly #destinations: Set<Writable>;
  readonly #all: Writable[];
  /** Per destination: writes made and called back, and checkpoints waiting for them (see #checkpoint). */
  readonly #acks = new Map<Writable, Acks>();
  readonly #detach: boolean;
  readonly #passThrough: boolean;
  #full = false;
  #held: Callback | undefined;
  #waiting = 0;
  #finishing: (() => void) | undefined;
  readonly #counters = count(this, 'tee');
  /** Counters and times of this stage: see `StageStats` (items out: those passed through). */
  declare stats: () => StageStats;

  constructor(destinations: Writable[], options: TeeOptions) {
    const opts = stageOptions('tee()', options);
    const passThrough = options.passThrough ?? false;
    // `readable` is a Duplex option that @types/node does not declare.
    super({
      objectMode: true,
      readableHighWaterMark: opts.readableHighWaterMark,
      writableHighWaterMark: opts.writableHighWaterMark,
      readable: passThrough,
    } as DuplexOptions);
    this.#all = destinations;
    this.#destinations = new Set(destinations);
    for (const destination of destinations) this.#acks.set(destination, new Acks());
    this.#detach = options.onError === 'detach';
    this.#passThrough = passThrough;
    destinations.forEach((destination, index) => {
      // Each destination fails once: an 'error' is followed by a 'close', which is not news then.
      let failed = false;
      const fail = (error: Error): void => {
        if (failed) return;
        failed = true;
        this.#failed(destination, index, error);
      };
      const early = (what: string): SluiceError => new SluiceError('ERR_SLUICE_CLOSED_EARLY', `tee(): destinations[${index}] ${what}`);
      // One that can take nothing more, and will not say so with an event, would leave the tee waiting
      // for it forever. On the next tick, so that a 'detach' listener added after tee() hears of it.
      const dead = destination.writableEnded ? 'had already ended' : hasClosed(destination) ? 'was destroyed' : undefined;
      if (dead !== undefined) process.nextTick(fail, destination.errored ?? early(`${dead} before the tee started`));
      // Closed already: it emits nothing more, so there is nothing to listen to.
      if (hasClosed(destination)) return;
      // Node emits 'error' before 'close', so the listener can go on 'close'. A destination destroyed
      // without an error before it finished would otherwise leave the tee waiting for it forever.
      const onClose = (): void => {
        destination.off('error', fail);
        if (!destination.writableFinished) fail(early('closed before it finished'));
      };
      destination.on('error', fail).once('close', onClose);
    });
    bindSignal(this, opts.signal);
  }

  /** Passes checkpoints on in order, a copy to each destination (see checkpoint.ts). */
  get [passesCheckpoints](): boolean {
    return true;
  }

  override _write(item: unknown, encoding: BufferEncoding, callback: Callback): void {
    if (item instanceof Checkpoint) {
      this.#checkpoint(item, callback);
      return;
    }
    this.#counters.start();
    this.#counters.itemsIn++;
    if (this.#passThrough) this.#counters.itemsOut++;
    this.#waiting = 1;
    for (const destination of this.#destinations) {
      if (!destination.write(item, encoding, this.#acks.get(destination)!.written())) {
        this.#waiting++;
        destination.once('drain', this.#drained);
      }
    }
    if (this.#passThrough && !this.push(item)) {
      this.#full = true;
      this.#waiting++;
    }
    this.#held = callback;
    this.#drained();
  }

  override _read(): void {
    if (this.#full) {
      this.#full = false;
      this.#drained();
    }
  }

  override _final(callback: Callback): void {
    const destinations = [...this.#destinations];
    let left = destinations.length + 1;
    const done = (): void => {
      if (--left === 0) {
        if (this.#passThrough) this.push(null);
        callback();
      }
    };
    this.#finishing = done;
    for (const destination of destinations) {
      if (destination.writableFinished) done();
      else destination.once('finish', done).end();
    }
    done();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    for (const destination of this.#all) {
      destination.off('drain', this.#drained);
      if (!destination.destroyed) destination.destroy(error ?? undefined);
    }
    this.#held = undefined;
    Promise.all(this.#all.map((d) => closed(d as Duplex))).then(() => callback(error));
  }

  /**
   * A copy for each destination and for the readable side; the checkpoint is resolved once they all
   * are. A destination that resolves checkpoints itself is written its copy; for any other, the copy
   * is resolved once it has called back every item written to it before.
   */
  #checkpoint(checkpoint: Checkpoint, callback: Callback): void {
    const copies = checkpoint.fork(this.#destinations.size + (this.#passThrough ? 1 : 0));
    let k = 0;
    this.#waiting = 1;
    for (const destination of this.#destinations) {
      const copy = copies[k++]!;
      if (!handles(destination)) this.#acks.get(destination)!.after(copy);
      else if (!destination.write(copy)) {
        this.#waiting++;
        destination.once('drain', this.#drained);
      }
    }
    if (this.#passThrough && !this.push(copies[k])) {
      this.#full = true;
      this.#waiting++;
    }
    this.#held = callback;
    this.#drained();
  }

  readonly #drained = (): void => {
    if (--this.#waiting > 0) return;
    const callback = this.#held;
    this.#held = undefined;
    callback?.();
  };

  #failed(destination: Writable, index: number, error: Error): void {
    // Destinations we destroyed ourselves: neither a new error nor a detach.
    if (this.destroyed) return;
    if (!this.#detach) {
      this.destroy(error);
      return;
    }
    this.#destinations.delete(destination);
    // What was written to it is given up for lost: its checkpoints no longer wait for it.
    this.#acks.get(destination)!.release();
    // A detached destination no longer holds the item, or the end, back.
    if (destination.listeners('drain').includes(this.#drained)) {
      destination.off('drain', this.#drained);
      this.#drained();
    }
    const finishing = this.#finishing;
    if (finishing !== undefined && destination.listeners('finish').includes(finishing)) {
      destination.off('finish', finishing);
      finishing();
    }
    this.emit('detach', error, index);
  }
}

/** Writes made to one destination and called back, and the checkpoints waiting for them. */
class Acks {
  #written = 0;
  #done = 0;
  #waiting: { after: number; checkpoint: Checkpoint }[] = [];
  readonly #onDone = (error?: Error | null): void => {
    if (error) return;
    this.#done++;
    while (this.#waiting.length > 0 && this.#waiting[0]!.after <= this.#done) this.#waiting.shift()!.checkpoint.resolve();
  };

  /** The callback of one more write. */
  written(): (error?: Error | null) => void {
    this.#written++;
    return this.#onDone;
  }

  /** Resolves `checkpoint` once every write so far has been called back. */
  after(checkpoint: Checkpoint): void {
    if (this.#done === this.#written) checkpoint.resolve();
    else this.#waiting.push({ after: this.#written, checkpoint });
  }

  /** Resolves every waiting checkpoint (a detached destination). */
  release(): void {
    for (const { checkpoint } of this.#waiting.splice(0)) checkpoint.resolve();
  }
}

/**
 * Fan-out broadcast: writes every item to every destination. The slowest destination sets the pace
 * (an item is accepted once every destination has taken it, waiting for `'drain'` where needed), so
 * memory stays bounded. It finishes only when every destination has finished.
 *
 * An error in one destination destroys every destination and the tee with that error, or with
 * `onError: 'detach'`, drops that destination and goes on. So does a destination that closes before
 * it has finished, or that had already ended or been destroyed when the tee was made: a
 * {@link SluiceError} with code `ERR_SLUICE_CLOSED_EARLY` (on the next tick, for the latter).
 * Destroying the tee destroys every destination. With `passThrough: true` the tee is also readable
 * and passes each item on.
 *
 * @typeParam T The items.
 * @param destinations Writables (or Duplexes whose output you consume yourself).
 * @param options See {@link TeeOptions}.
 * @returns A Writable (a Duplex with `passThrough`).
 * @throws {TypeError} When a destination is not a Writable or an option is invalid.
 *
 * @example Two sinks, one pass
 * ```ts
 * import { tee, pipeline } from 'sluice';
 * import { Writable } from 'node:stream';
 * const a: number[] = [], b: number[] = [];
 * const sink = (into: number[]) => new Writable({ objectMode: true, write(n, _e, cb) { into.push(n); cb(); } });
 * await pipeline([1, 2, 3], tee([sink(a), sink(b)]));
 * assert.deepEqual(a, [1, 2, 3]);
 * assert.deepEqual(b, [1, 2, 3]);
 * ```
 */
export function tee<T>(destinations: readonly (Writable | NodeJS.WritableStream)[], options?: TeeOptions): TypedDuplex<T, T> & Tee {
  if (!Array.isArray(destinations)) check.invalid('tee()', 'destinations', 'an array', destinations);
  destinations.forEach((d: unknown, i) => {
    if (!isNodeStream(d) || typeof (d as Partial<Writable>).write !== 'function') {
      check.invalid('tee()', `destinations[${i}]`, 'a Writable', d);
    }
  });
  const opts = check.options('tee()', options);
  if (opts.onError !== undefined) check.oneOf('tee()', 'options.onError', opts.onError, ['fail', 'detach'] as const);
  if (opts.passThrough !== undefined) check.boolean('tee()', 'options.passThrough', opts.passThrough);
  return new Tee([...destinations] as Writable[], opts) as TypedDuplex<T, T> & Tee;
}
