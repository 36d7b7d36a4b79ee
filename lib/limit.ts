import { Semaphore } from './semaphore.js';
import * as check from './internal/validate.js';

/** What {@link limit} returns: call it with a function to run that function under the limit. */
export interface LimitFunction {
  /**
   * Runs `fn` as soon as fewer than the limit are running, in call order.
   *
   * @typeParam A The arguments given to `fn`.
   * @typeParam T What `fn` returns or resolves to.
   * @param fn The work. A value, a promise or a throw are all fine.
   * @param args Passed on to `fn`, as p-limit does.
   * @returns A promise of `fn`'s result; it rejects with whatever `fn` threw or rejected with,
   *   unchanged.
   */
  <A extends unknown[], T>(fn: (...args: A) => T | PromiseLike<T>, ...args: A): Promise<T>;
  /** Functions running right now. */
  readonly activeCount: number;
  /** Functions waiting for their turn. */
  readonly pendingCount: number;
}

/**
 * Bounded parallelism for plain promises (the p-limit job): the returned function runs the
 * functions given to it with at most `concurrency` running at once, the rest waiting in call order.
 *
 * A failing function only fails its own promise; the others go on. Nothing is cancelled: to stop
 * waiting work, use {@link Semaphore} with a `signal`.
 *
 * @param concurrency How many at once: an integer >= 1, or `Infinity` for no limit.
 * @returns A {@link LimitFunction}, with `activeCount` and `pendingCount`.
 * @throws {TypeError} When `concurrency` is not a number.
 * @throws {RangeError} When `concurrency` is not an integer >= 1 or `Infinity` (0 is refused, not
 *   turned into "no limit").
 *
 * @example Fetch many, two at a time
 * ```ts
 * import { limit } from 'sluice';
 * const run = limit(2);
 * let running = 0, most = 0;
 * const fetchOne = async (id: number) => {
 *   most = Math.max(most, ++running);
 *   await new Promise((resolve) => setTimeout(resolve, 5));
 *   running--;
 *   return id * 10;
 * };
 * const results = await Promise.all([1, 2, 3, 4].map((id) => run(() => fetchOne(id))));
 * assert.deepEqual(results, [10, 20, 30, 40]);
 * assert.equal(most, 2);
 * assert.equal(run.activeCount, 0);
 * ```
 */
export function limit(concurrency: number): LimitFunction {
  const semaphore = new Semaphore(check.integer('limit()', 'concurrency', concurrency, 1, true));
  // Every call is either waiting in the semaphore's queue or holding a place: counting calls is
  // enough to know how many run, even with Infinity places.
  let calls = 0;
  const run = async <A extends unknown[], T>(fn: (...args: A) => T | PromiseLike<T>, ...args: A): Promise<T> => {
    check.func('limit()', 'fn', fn);
    calls++;
    const release = semaphore.tryAcquire() ?? (await semaphore.acquire());
    try {
      return await fn(...args);
    } finally {
      calls--;
      release();
    }
  };
  return Object.defineProperties(run, {
    activeCount: { get: () => calls - semaphore.pending, enumerable: true },
    pendingCount: { get: () => semaphore.pending, enumerable: true },
  }) as LimitFunction;
}
