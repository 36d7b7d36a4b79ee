import { Readable } from 'node:stream';
import { handles, passesCheckpoints, usesCheckpoints } from './internal/checkpoint.js';
import { bindSignal, failWith, stageOptions, type StageOptions } from './internal/stage-options.js';
import { isNodeStream } from './internal/streams.js';
import * as check from './internal/validate.js';

/** Options for {@link merge}. */
export interface MergeOptions extends Pick<StageOptions, 'highWaterMark' | 'signal'> {
  /**
   * `'fail'`: an error in one source destroys every source and the merged stream with that error.
   * `'detach'`: the failing source is dropped (a `'detach'` event gives the error and the source's
   * index) and the others go on.
   * @default 'fail'
   */
  onError?: 'fail' | 'detach';
}

type Source<T> = Readable | NodeJS.ReadableStream | Iterable<T> | AsyncIterable<T>;

function iterate(source: unknown): AsyncIterator<unknown> | Iterator<unknown> {
  const s = source as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
  const asyncIterator = s[Symbol.asyncIterator];
  if (typeof asyncIterator === 'function') return asyncIterator.call(s);
  return (s as Iterable<unknown>)[Symbol.iterator]();
}

/**
 * The fan-in behind {@link merge}: one reader loop per source, each paused while the merged stream
 * is full, so no source is read faster than the consumer reads.
 */
export class Merge extends Readable {
  readonly #sources: unknown[];
  readonly #iterators: (AsyncIterator<unknown> | Iterator<unknown>)[] = [];
  readonly #detach: boolean;
  #active = 0;
  #started = false;
  #full = false;
  #wake: (() => void) | undefined;
  #waiting: Promise<void> | undefined;

  constructor(sources: unknown[], options: MergeOptions) {
    const opts = stageOptions('merge()', options);
    super({ objectMode: true, highWaterMark: opts.readableHighWaterMark });
    this.#sources = sources;
    this.#detach = options.onError === 'detach';
    bindSignal(this, opts.signal);
  }

  /** Passes its sources' checkpoints on, each in its source's order (see checkpoint.ts). */
  get [passesCheckpoints](): boolean {
    return true;
  }

  /** Writes checkpoints when one of its sources does (a Redis source, say). */
  get [usesCheckpoints](): boolean {
    return this.#sources.some(handles);
  }

  override _read(): void {
    this.#full = false;
    if (!this.#started) {
      this.#started = true;
      this.#active = this.#sources.length;
      if (this.#active === 0) this.push(null);
      this.#sources.forEach((source, i) => {
        const it = iterate(source);
        this.#iterators.push(it);
        void this.#loop(it, i);
      });
    }
    const wake = this.#wake;
    this.#wake = this.#waiting = undefined;
    wake?.();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Without the error: a source not (or no longer) being iterated has no 'error' listener, and the
    // error belongs to the merged stream, not to the sources it stops.
    for (const source of this.#sources) {
      if (isNodeStream(source) && !source.destroyed) source.destroy();
    }
    // Deliberately not awaited: a source parked mid-await would leave return() pending.
    for (const it of this.#iterators) void Promise.resolve(it.return?.()).catch(() => {});
    const wake = this.#wake;
    this.#wake = this.#waiting = undefined;
    wake?.();
    callback(error);
  }

  #readable(): Promise<void> {
    this.#waiting ??= new Promise((resolve) => (this.#wake = resolve));
    return this.#waiting;
  }

  async #loop(it: AsyncIterator<unknown> | Iterator<unknown>, index: number): Promise<void> {
    try {
      for (;;) {
        if (this.#full) await this.#readable();
        if (this.destroyed) return;
        const step = await it.next();
        if (step.done === true || this.destroyed) break;
        if (!this.push(step.value)) this.#full = true;
      }
    } catch (error) {
      // Sources we stopped ourselves fail with a premature close: neither a new error nor a detach.
      if (this.destroyed) return;
      if (!this.#detach) {
        failWith(this, error);
        return;
      }
      this.emit('detach', error, index);
    }
    if (--this.#active === 0 && !this.destroyed) this.push(null);
  }
}

/**
 * Fan-in: reads any number of Readables, iterables and async iterables into one object-mode Readable,
 * in whatever order items arrive. It ends when every source has ended.
 *
 * No source is read faster than the merged stream is read. The first error in a source destroys
 * every source and the merged stream with that error (unless `onError: 'detach'`); destroying the
 * merged stream destroys every source (a generator's `finally` runs).
 *
 * @typeParam T The items.
 * @param sources The streams and iterables to read.
 * @param options See {@link MergeOptions}.
 * @returns A Readable of all items.
 * @throws {TypeError} When `sources` is not an array of streams or iterables.
 *
 * @example Two sources into one
 * ```ts
 * import { merge, toArray } from 'sluice';
 * const out = await toArray(merge([[1, 2], (async function* () { yield 3; })()]));
 * assert.deepEqual(out.sort(), [1, 2, 3]);
 * ```
 */
export function merge<T>(sources: readonly Source<T>[], options?: MergeOptions): Merge & AsyncIterable<T> {
  if (!Array.isArray(sources)) check.invalid('merge()', 'sources', 'an array', sources);
  sources.forEach((source: unknown, i) => {
    const ok = typeof source === 'object' && source !== null && (Symbol.asyncIterator in source || Symbol.iterator in source);
    if (!ok) check.invalid('merge()', `sources[${i}]`, 'a Readable, an iterable or an async iterable', source);
  });
  const opts = check.options('merge()', options);
  if (opts.onError !== undefined) check.oneOf('merge()', 'options.onError', opts.onError, ['fail', 'detach'] as const);
  return new Merge([...sources], opts) as Merge & AsyncIterable<T>;
}
