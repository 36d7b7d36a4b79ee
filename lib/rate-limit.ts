import { Transform, type TransformCallback } from 'node:stream';
import { Checkpoint, passesCheckpoints } from './internal/checkpoint.js';
import { count, type Counters } from './internal/stats.js';
import { stageOptions, bindSignal, type StageOptions } from './internal/stage-options.js';
import type { itemTypes, TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

/** Options for {@link rateLimit}. */
export interface RateLimitOptions extends StageOptions {
  /** Items let through per `per` milliseconds, in the long run: a finite number > 0. Required. */
  rate: number;
  /** The length of the window `rate` applies to, in milliseconds. @default 1000 */
  per?: number;
  /**
   * How many items may pass at once after a quiet spell (the bucket's size): an integer >= 1. Over any
   * `per` ms, at most `rate + burst` items pass.
   * @default 1
   */
  burst?: number;
}

const WHERE = 'rateLimit()';
// Tokens are fractional; this absorbs floating-point dust so a timer that fired on time is not re-armed.
const EPSILON = 1e-9;
const MAX_DELAY = 2 ** 31 - 1;

/**
 * The token bucket behind {@link rateLimit}: an object-mode Transform that holds each item until a
 * token is due. At most one item waits, and one timer runs only while it does.
 */
export class RateLimit<T = unknown> extends Transform implements TypedDuplex<T, T> {
  declare readonly [itemTypes]?: { in: (value: T) => void; out: T };
  readonly #burst: number;
  readonly #msPerToken: number;
  readonly #counters: Counters;
  #tokens: number;
  #refilledAt = performance.now();
  #timer: NodeJS.Timeout | undefined;
  #waiting: { chunk: T; callback: TransformCallback } | undefined;

  constructor(options: RateLimitOptions) {
    const opts = check.options(WHERE, options);
    const rate = check.number(WHERE, 'options.rate', opts.rate, 0, true);
    const per = opts.per === undefined ? 1000 : check.number(WHERE, 'options.per', opts.per, 0, true);
    const burst = opts.burst === undefined ? 1 : check.integer(WHERE, 'options.burst', opts.burst, 1);
    const stage = stageOptions(WHERE, opts);
    super({ objectMode: true, readableHighWaterMark: stage.readableHighWaterMark, writableHighWaterMark: stage.writableHighWaterMark });
    this.#burst = burst;
    this.#tokens = burst;
    this.#msPerToken = per / rate;
    this.#counters = count(this, stage.name ?? 'rateLimit');
    bindSignal(this, stage.signal);
  }

  /** Passes checkpoints on in order, taking no token (see checkpoint.ts). */
  get [passesCheckpoints](): boolean {
    return true;
  }

  override _transform(chunk: T, _encoding: BufferEncoding, callback: TransformCallback): void {
    // A checkpoint takes no token: everything before it has passed already.
    if (chunk instanceof Checkpoint) {
      callback(null, chunk);
      return;
    }
    this.#counters.start();
    this.#counters.itemsIn++;
    this.#waiting = { chunk, callback };
    this.#tryPass();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#waiting = undefined;
    callback(error);
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#refilledAt) / this.#msPerToken);
    this.#refilledAt = now;
  }

  /** Either lets the waiting item through or sleeps exactly until the next token is due. */
  #tryPass = (): void => {
    this.#timer = undefined;
    this.#refill();
    if (this.#tokens < 1 - EPSILON) {
      // Past setTimeout's maximum, Node would fire after 1 ms instead: wait the maximum and look again.
      this.#timer = setTimeout(this.#tryPass, Math.min(Math.ceil((1 - this.#tokens) * this.#msPerToken), MAX_DELAY));
      return;
    }
    this.#tokens = Math.max(0, this.#tokens - 1);
    const item = this.#waiting;
    this.#waiting = undefined;
    if (item !== undefined) this.#counters.itemsOut++;
    item?.callback(null, item.chunk);
  };
}

/**
 * Lets items through at a steady rate, with a token bucket: the bucket holds up to `burst` tokens,
 * refills at `rate` tokens per `per` ms, and each item takes one. Over any window of `per` ms, at
 * most `rate + burst` items pass; in the long run, `rate` per `per`. Items keep their order and are
 * never dropped: an item that finds the bucket empty waits, and so does everything behind it
 * (upstream sees backpressure).
 *
 * The bucket starts full, so the first `burst` items pass at once. A timer runs only while an item
 * waits for a token: none while idle, none after the end. Destroying the stage (an error, an abort of
 * `options.signal`, an early end downstream) clears that timer and drops the waiting item.
 *
 * @typeParam T The items, passed through unchanged.
 * @param options `rate`, `per`, `burst`, plus buffering and cancellation. See {@link RateLimitOptions}.
 * @returns An object-mode Transform.
 * @throws {TypeError} When `options` or one of its fields has the wrong type (`rate` is required).
 * @throws {RangeError} When `rate` or `per` is not a finite number > 0, or `burst` is not an integer
 *   >= 1.
 *
 * @example Two at once, then one every 25 ms
 * ```ts
 * import { rateLimit, toArray } from 'sluice';
 * const start = performance.now();
 * const items = await toArray([1, 2, 3, 4, 5, 6], rateLimit<number>({ rate: 2, per: 50, burst: 2 }));
 * assert.deepEqual(items, [1, 2, 3, 4, 5, 6]);
 * // The bucket starts with 2 tokens and gains one every 25 ms: the sixth item waited for 4 of them.
 * assert.ok(performance.now() - start >= 99);
 * ```
 */
export function rateLimit<T>(options: RateLimitOptions): TypedDuplex<T, T> & Transform {
  return new RateLimit<T>(options);
}
