import { Transform, type TransformCallback } from 'node:stream';
import { Checkpoint, passesCheckpoints } from './internal/checkpoint.js';
import { count } from './internal/stats.js';
import { stageOptions, bindSignal, type StageOptions } from './internal/stage-options.js';
import type { TypedDuplex } from './internal/types.js';
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
  const opts = check.options(WHERE, options);
  const rate = check.number(WHERE, 'options.rate', opts.rate, 0, true);
  const per = opts.per === undefined ? 1000 : check.number(WHERE, 'options.per', opts.per, 0, true);
  const burst = opts.burst === undefined ? 1 : check.integer(WHERE, 'options.burst', opts.burst, 1);
  const stage = stageOptions(WHERE, opts);
  const msPerToken = per / rate;

  let tokens = burst;
  let refilledAt = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let waiting: { chunk: T; callback: TransformCallback } | undefined;

  const refill = (): void => {
    const now = performance.now();
    tokens = Math.min(burst, tokens + (now - refilledAt) / msPerToken);
    refilledAt = now;
  };
  // Either lets the waiting item through or sleeps exactly until the next token is due.
  const tryPass = (): void => {
    timer = undefined;
    refill();
    if (tokens < 1 - EPSILON) {
      // Past setTimeout's maximum, Node would fire after 1 ms instead: wait the maximum and look again.
      timer = setTimeout(tryPass, Math.min(Math.ceil((1 - tokens) * msPerToken), MAX_DELAY));
      return;
    }
    tokens = Math.max(0, tokens - 1);
    const item = waiting;
    waiting = undefined;
    if (item !== undefined) counters.itemsOut++;
    item?.callback(null, item.chunk);
  };

  const stream = new Transform({
    objectMode: true,
    readableHighWaterMark: stage.readableHighWaterMark,
    writableHighWaterMark: stage.writableHighWaterMark,
    transform(chunk: T, _enc, callback) {
      // A checkpoint takes no token: everything before it has passed already.
      if (chunk instanceof Checkpoint) {
        callback(null, chunk);
        return;
      }
      counters.start();
      counters.itemsIn++;
      waiting = { chunk, callback };
      tryPass();
    },
    destroy(err, callback) {
      clearTimeout(timer);
      timer = undefined;
      waiting = undefined;
      callback(err);
    },
  });
  const counters = count(stream, stage.name ?? 'rateLimit');
  bindSignal(stream, stage.signal);
  Object.defineProperty(stream, passesCheckpoints, { value: true });
  return stream;
}
