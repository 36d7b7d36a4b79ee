import * as check from './internal/validate.js';

/** Gives back the place taken by `acquire()`. Calling it again does nothing. */
export type Release = () => void;

/** Options for {@link Semaphore.acquire}. */
export interface AcquireOptions {
  /**
   * Aborting it while waiting rejects `acquire()` with `signal.reason` (unchanged) and gives up the
   * place in the queue. An already aborted signal rejects at once, even when a place is free.
   * @default undefined
   */
  signal?: AbortSignal;
}

interface Waiter {
  resolve(release: Release): void;
  cleanup(): void;
}

const WHERE = 'Semaphore';

/**
 * A counting semaphore for promises: at most `permits` holders at once, the others wait in
 * first-come, first-served order.
 *
 * A released place goes straight to the oldest waiter, so a later `tryAcquire()` cannot jump the
 * queue. A waiter whose signal aborts rejects with the signal's reason and leaves the queue; the
 * others keep their order.
 *
 * @example Hold a place while doing work
 * ```ts
 * import { Semaphore } from 'sluice';
 * const sem = new Semaphore(2);
 * let running = 0, most = 0;
 * await Promise.all([1, 2, 3, 4, 5].map(async (n) => {
 *   const release = await sem.acquire();
 *   try {
 *     most = Math.max(most, ++running);
 *     await new Promise((resolve) => setTimeout(resolve, 5));
 *   } finally {
 *     running--;
 *     release();
 *   }
 * }));
 * assert.equal(most, 2);
 * assert.equal(sem.available, 2);
 * ```
 *
 * @example Give up waiting
 * ```ts
 * import { Semaphore } from 'sluice';
 * const sem = new Semaphore(1);
 * const release = await sem.acquire();
 * const controller = new AbortController();
 * const waiting = sem.acquire({ signal: controller.signal });
 * assert.equal(sem.pending, 1);
 * controller.abort(new Error('no longer needed'));
 * await assert.rejects(waiting, { message: 'no longer needed' });
 * assert.equal(sem.pending, 0);
 * release();
 * ```
 */
export class Semaphore {
  #permits: number;
  /** Places taken (counting, not the difference, works with `Infinity` permits). */
  #held = 0;
  // A Set keeps insertion order (FIFO) and lets an aborted waiter leave from anywhere in O(1).
  readonly #queue = new Set<Waiter>();

  /**
   * @param permits How many holders at once: an integer >= 1, or `Infinity` for no limit.
   * @throws {TypeError} When `permits` is not a number.
   * @throws {RangeError} When `permits` is not an integer >= 1 or `Infinity` (0 is refused, not
   *   turned into "no limit").
   */
  constructor(permits: number) {
    this.#permits = check.integer(`${WHERE}()`, 'permits', permits, 1, true);
  }

  /** How many holders at once. */
  get permits(): number {
    return this.#permits;
  }

  /**
   * Changes how many holders there may be at once, as a controller resizing Go's weighted semaphore
   * does: more wake the oldest waiters at once; fewer take effect as holders release (nobody is
   * interrupted).
   *
   * @param permits An integer >= 1, or `Infinity`.
   * @throws {RangeError} When `permits` is not an integer >= 1 or `Infinity`.
   */
  setPermits(permits: number): void {
    const next = check.integer(`${WHERE}.setPermits()`, 'permits', permits, 1, true);
    this.#permits = next;
    while (this.#held < next && this.#queue.size > 0) {
      const waiter = this.#queue.values().next().value!;
      this.#queue.delete(waiter);
      waiter.cleanup();
      this.#held++;
      waiter.resolve(this.#release());
    }
  }

  /** Places free right now (0 while more are held than `permits` allows, after a shrink). */
  get available(): number {
    return Math.max(0, this.#permits - this.#held);
  }

  /** Callers waiting in `acquire()`. */
  get pending(): number {
    return this.#queue.size;
  }

  /**
   * Waits for a free place, behind everyone already waiting. If `options.signal` aborts first (or
   * already has), the promise rejects with its reason, unchanged, and the place in the queue is given
   * up.
   *
   * @param options `signal` to give up waiting. See {@link AcquireOptions}.
   * @returns A promise of the {@link Release} function that gives the place back.
   * @throws {TypeError} When `options.signal` is not an AbortSignal (thrown, not rejected).
   */
  acquire(options?: AcquireOptions): Promise<Release> {
    const opts = check.options(`${WHERE}.acquire()`, options, 'options', ['signal']);
    const signal = opts.signal === undefined ? undefined : check.signal(`${WHERE}.acquire()`, 'options.signal', opts.signal);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const release = this.tryAcquire();
    if (release !== undefined) return Promise.resolve(release);
    return new Promise<Release>((resolve, reject) => {
      const onAbort = (): void => {
        this.#queue.delete(waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        resolve,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.add(waiter);
    });
  }

  /**
   * Takes a free place if there is one and nobody is waiting.
   *
   * @returns The {@link Release} function, or `undefined` when no place is free.
   */
  tryAcquire(): Release | undefined {
    if (this.#held >= this.#permits || this.#queue.size > 0) return undefined;
    this.#held++;
    return this.#release();
  }

  #release(): Release {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.#queue.values().next();
      // Nobody waits, or the semaphore was shrunk and still has more holders than permits: the place goes.
      if (next.done === true || this.#held > this.#permits) {
        this.#held--;
        return;
      }
      // Hand the place over directly: it never becomes free, so nobody can take it in between.
      const waiter = next.value;
      this.#queue.delete(waiter);
      waiter.cleanup();
      waiter.resolve(this.#release());
    };
  }
}
