import { Duplex } from 'node:stream';
import { SluiceError } from './errors.js';
import { Checkpoint, Markers, passesCheckpoints, passesOn } from './internal/checkpoint.js';
import { IdleSet } from './internal/idle-set.js';
import { bindSignal, failWith, stageOptions, type StageOptions } from './internal/stage-options.js';
import { count, type Counters, type StageStats } from './internal/stats.js';
import { closed, isNodeStream } from './internal/streams.js';
import type { TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

/** Options for {@link partition}. */
export interface PartitionOptions extends StageOptions {
  /**
   * Most keys processing at once (an integer >= 1, or Infinity): a key is processing while its
   * sub-pipeline has not called back an item written to it; `map()` calls back once the item is done,
   * a pool such as `parallel()` once it is queued. An item for another key waits, and so does upstream.
   * @default 8
   */
  concurrency?: number;
  /**
   * Most sub-pipelines open at once, ending ones included (an integer >= 1, or Infinity). At the bound,
   * an item for a new key ends the least recently used idle one and waits until its output has ended.
   * @default 1024
   */
  maxKeys?: number;
  /**
   * Milliseconds a sub-pipeline may stay idle before it is ended (a later item for its key makes a new
   * one). Unset: only `maxKeys` or the end of the input ends them.
   * @default undefined
   */
  idleTimeout?: number;
}

type Callback = (error?: Error | null) => void;

const WHERE = 'partition()';

/**
 * One key's sub-pipeline. `pending`: items written to it and not yet called back (it is processing
 * while > 0); `ending`: ended by partition(), and counted until its output has ended; `written`: the
 * callback of every item written to it.
 */
class Sub {
  pending = 0;
  ending = false;
  constructor(
    readonly key: unknown,
    readonly stream: Duplex,
    readonly written: () => void,
  ) {}
}

/**
 * The stage behind {@link partition}. State: `#subs` holds every sub-pipeline whose output has not
 * ended, by key; `#idle` the open ones not processing, least recently used first; `#busy` counts the
 * processing ones and `#ending` the ending ones. A write that cannot go on now is `#held`, and retried
 * on each event that may let it: a sub-pipeline goes idle, drains or ends, or the consumer reads.
 */
export class Partition extends Duplex {
  readonly #key: (item: unknown) => unknown;
  readonly #factory: (key: unknown) => unknown;
  readonly #concurrency: number;
  readonly #maxKeys: number;
  readonly #subs = new Map<unknown, Sub>();
  readonly #idle: IdleSet<Sub>;
  #busy = 0;
  #ending = 0;
  /** Sub-pipelines paused because the readable side was full; resumed on the next read. */
  readonly #paused = new Set<Duplex>();
  /** A checkpoint's copies still inside the sub-pipelines, by copy: the original passes on when none is left. */
  readonly #markers = new Markers();
  #held: (() => void) | undefined;
  /** `_final`'s callback, called once every sub-pipeline's output has ended. */
  #final: Callback | undefined;
  readonly #counters: Counters;
  /** Counters and times of this stage: see `StageStats` (in flight: items inside sub-pipelines, not yet called back). */
  declare stats: () => StageStats;

  constructor(key: (item: unknown) => unknown, factory: (key: unknown) => unknown, options: PartitionOptions & { concurrency: number; maxKeys: number }) {
    const opts = stageOptions(WHERE, options);
    super({ objectMode: true, readableHighWaterMark: opts.readableHighWaterMark, writableHighWaterMark: opts.writableHighWaterMark });
    this.#key = key;
    this.#factory = factory;
    this.#concurrency = options.concurrency;
    this.#maxKeys = options.maxKeys;
    this.#idle = new IdleSet(options.idleTimeout, (sub) => this.#end(sub));
    this.#counters = count(this, opts.name ?? 'partition');
    bindSignal(this, opts.signal);
  }

  /** A checkpoint passes on once every copy of it has come out of every sub-pipeline open when it arrived. */
  get [passesCheckpoints](): boolean {
    return true;
  }

  override _write(item: unknown, _encoding: BufferEncoding, callback: Callback): void {
    if (item instanceof Checkpoint) {
      this.#checkpoint(item, callback);
      return;
    }
    this.#counters.start();
    this.#counters.itemsIn++;
    let key: unknown;
    try {
      key = this.#key(item);
    } catch (error) {
      failWith(this, error);
      return;
    }
    this.#route(item, key, callback);
  }

  override _final(callback: Callback): void {
    this.#final = callback;
    this.#idle.close();
    for (const sub of this.#subs.values()) if (!sub.ending) this.#end(sub);
    this.#endIfDone();
  }

  override _read(): void {
    for (const stream of this.#paused) stream.resume();
    this.#paused.clear();
    this.#retry();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.#idle.close();
    this.#held = undefined;
    const streams = [...this.#subs.values()].map((sub) => sub.stream);
    for (const stream of streams) if (!stream.destroyed) stream.destroy(error ?? undefined);
    Promise.all(streams.map(closed)).then(() => callback(error));
  }

  #route(item: unknown, key: unknown, callback: Callback): void {
    let sub = this.#subs.get(key);
    const idle = sub === undefined || sub.pending === 0;
    // Waits while the key's old sub-pipeline is ending (a new one must not overtake its output), while
    // it is full, or while the key would be one too many processing.
    if (sub?.ending === true || sub?.stream.writableNeedDrain === true || (idle && this.#busy >= this.#concurrency)) {
      this.#held = () => this.#route(item, key, callback);
      return;
    }
    if (sub === undefined) {
      if (this.#subs.size >= this.#maxKeys) {
        // One ending sub-pipeline at a time frees a place: waiting writes must not end them all.
        const lru = this.#ending === 0 ? this.#idle.oldest() : undefined;
        if (lru !== undefined) this.#end(lru);
        this.#held = () => this.#route(item, key, callback);
        return;
      }
      sub = this.#open(key);
      if (sub === undefined) return;
    }
    this.#counters.inFlight++;
    if (sub.pending++ === 0) {
      this.#busy++;
      this.#idle.delete(sub);
    }
    sub.stream.write(item, sub.written);
    callback();
  }

  #open(key: unknown): Sub | undefined {
    let stream: unknown;
    try {
      stream = this.#factory(key);
    } catch (error) {
      failWith(this, error);
      return undefined;
    }
    if (!isNodeStream(stream) || typeof stream.write !== 'function' || typeof stream.read !== 'function') {
      if (isNodeStream(stream)) stream.destroy();
      this.destroy(new TypeError(`${WHERE}: factory(${check.describe(key)}) must return a Duplex, got ${check.describe(stream)}`));
      return undefined;
    }
    const sub: Sub = new Sub(key, stream, () => this.#written(sub));
    this.#subs.set(key, sub);
    stream.on('error', (error: Error) => this.destroy(error));
    stream.on('drain', () => this.#retry());
    stream.on('data', (out: unknown) => this.#output(sub, out));
    stream.once('end', () => this.#gone(sub));
    stream.once('close', () => {
      // Closed without an error before its output ended: what it held would be lost without a word.
      if (this.#subs.get(key) === sub && !this.destroyed) {
        this.destroy(new SluiceError('ERR_SLUICE_CLOSED_EARLY', `${WHERE}: the sub-pipeline for key ${check.describe(key)} closed before its output ended`));
      }
    });
    return sub;
  }

  #written(sub: Sub): void {
    if (this.destroyed || this.#subs.get(sub.key) !== sub) return;
    this.#counters.inFlight--;
    if (--sub.pending > 0) return;
    this.#busy--;
    if (!sub.ending) this.#idle.add(sub);
    this.#retry();
  }

  #output(sub: Sub, data: unknown): void {
    const item = this.#markers.arrived(data);
    if (item === undefined) return;
    if (!(item instanceof Checkpoint)) this.#counters.itemsOut++;
    if (!this.push(item)) {
      sub.stream.pause();
      this.#paused.add(sub.stream);
    }
  }

  /**
   * A copy to every open sub-pipeline (written even past its highWaterMark: it holds no item), as a
   * marker of position, as distribute() does. An ending one could take no copy: its output ends first.
   */
  #checkpoint(checkpoint: Checkpoint, callback: Callback): void {
    if (this.#ending > 0) {
      this.#held = () => this.#checkpoint(checkpoint, callback);
      return;
    }
    const subs = [...this.#subs.values()];
    const blind = subs.find((sub) => !passesOn(sub.stream));
    if (blind !== undefined) {
      const which = `the sub-pipeline for key ${check.describe(blind.key)} (${blind.stream.constructor.name})`;
      callback(
        new TypeError(`${WHERE}: ${which} does not pass checkpoints on; with a source that acknowledges its items, every sub-pipeline must be a sluice stage`),
      );
      return;
    }
    if (subs.length === 0) {
      if (this.push(checkpoint)) callback();
      else this.#held = callback;
      return;
    }
    this.#markers.send(
      checkpoint,
      subs.map((sub) => sub.stream),
    );
    callback();
  }

  #end(sub: Sub): void {
    sub.ending = true;
    this.#ending++;
    this.#idle.delete(sub);
    sub.stream.end();
  }

  /** A sub-pipeline's output ended: ended by us, or by itself (a `take()`), then it is closed. */
  #gone(sub: Sub): void {
    this.#subs.delete(sub.key);
    this.#idle.delete(sub);
    this.#paused.delete(sub.stream);
    if (sub.pending > 0) this.#busy--;
    this.#counters.inFlight -= sub.pending;
    if (sub.ending) this.#ending--;
    else sub.stream.destroy();
    this.#retry();
    this.#endIfDone();
  }

  #endIfDone(): void {
    const final = this.#final;
    if (final === undefined || this.#subs.size > 0) return;
    this.#final = undefined;
    this.push(null);
    final();
  }

  #retry(): void {
    const held = this.#held;
    this.#held = undefined;
    held?.();
  }
}

/**
 * Routes each item by `key(item)` to its own sub-pipeline, made by `factory(key)` on the key's first
 * item, and merges their outputs, as they come, into the returned Duplex. A key's items go through its
 * sub-pipeline in order, so a one-at-a-time sub-pipeline keeps their order; different keys run
 * concurrently, at most `concurrency` at once. Keys are compared as `Map` keys.
 *
 * Backpressure holds end to end: an item waits while its key's sub-pipeline is full, while
 * `concurrency` other keys are processing, or while `maxKeys` sub-pipelines are open and none is idle.
 * The least recently used idle one is ended to make room, and so is one idle for `idleTimeout` ms; a
 * later item for its key gets a new one. When the input ends, every sub-pipeline is ended, and the
 * result ends once all their outputs have.
 *
 * An error in a sub-pipeline, `key` or `factory` destroys every sub-pipeline and the whole with that
 * very error; an abort of `options.signal`, with its reason. Destroying the whole destroys every
 * sub-pipeline and clears the `idleTimeout` timer. A sub-pipeline destroyed without an error before its
 * output ended fails the whole with a `SluiceError` coded `ERR_SLUICE_CLOSED_EARLY`. A checkpoint passes
 * on once every item written before it has come out of every sub-pipeline: each gets a copy to pass on,
 * and one that cannot (not a sluice stage) fails the whole with a `TypeError` when a checkpoint arrives.
 *
 * @typeParam I The items written in.
 * @typeParam O The items the sub-pipelines give.
 * @typeParam K The keys.
 * @param key Gives an item's key.
 * @param factory Builds the sub-pipeline of a key: any Duplex, e.g. a `map()` or a `chain()`.
 * @param options See {@link PartitionOptions}.
 * @returns A Duplex, with `stats()`.
 * @throws {TypeError} When `key` or `factory` is not a function, or an option is unknown or has the wrong type.
 * @throws {RangeError} When `concurrency` or `maxKeys` is not an integer >= 1 or Infinity, or `idleTimeout`
 *   not a number > 0 and <= 2^31 - 1.
 *
 * @example Each user's events in order, users concurrently
 * ```ts
 * import { map, partition, toArray } from 'sluice';
 * import { setTimeout as sleep } from 'node:timers/promises';
 * const events = [{ user: 'ann', n: 1 }, { user: 'bob', n: 1 }, { user: 'ann', n: 2 }, { user: 'bob', n: 2 }];
 * const out = await toArray(events, partition((e: { user: string; n: number }) => e.user, (user) =>
 *   map(async (e: { user: string; n: number }) => {
 *     await sleep(user === 'ann' ? 5 : 1);
 *     return `${e.user}${e.n}`;
 *   }), { concurrency: 2 }));
 * assert.deepEqual(out.filter((s) => s.startsWith('ann')), ['ann1', 'ann2']);
 * assert.deepEqual(out.filter((s) => s.startsWith('bob')), ['bob1', 'bob2']);
 * assert.equal(out.length, 4);
 * ```
 */
export function partition<I, O, K = unknown>(
  key: (item: I) => K,
  factory: (key: K) => TypedDuplex<I, O> | Duplex,
  options?: PartitionOptions,
): TypedDuplex<I, O> & Partition {
  check.func(WHERE, 'key', key);
  check.func(WHERE, 'factory', factory);
  const opts = check.options(WHERE, options, 'options', [...check.STAGE_KEYS, 'concurrency', 'maxKeys', 'idleTimeout']);
  const concurrency = opts.concurrency === undefined ? 8 : check.integer(WHERE, 'options.concurrency', opts.concurrency, 1, true);
  const maxKeys = opts.maxKeys === undefined ? 1024 : check.integer(WHERE, 'options.maxKeys', opts.maxKeys, 1, true);
  const idleTimeout = opts.idleTimeout === undefined ? {} : { idleTimeout: check.delay(WHERE, 'options.idleTimeout', opts.idleTimeout) };
  return new Partition(key as (item: unknown) => unknown, factory as (key: unknown) => unknown, {
    ...opts,
    ...idleTimeout,
    concurrency,
    maxKeys,
  }) as TypedDuplex<I, O> & Partition;
}
