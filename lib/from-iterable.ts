import { Readable } from 'node:stream';
import { stageOptions, bindSignal, type StageOptions } from './internal/stage-options.js';
import * as check from './internal/validate.js';

/** Options for {@link fromIterable}. */
export interface FromIterableOptions extends Pick<StageOptions, 'highWaterMark' | 'signal'> {}

/**
 * An object-mode Readable over an iterable or async iterable. It pulls only as fast as it is read;
 * destroying it (or aborting `signal`) closes the iterator, so a generator's `finally` runs.
 *
 * @typeParam T The items.
 * @param iterable What to read from.
 * @param options Buffering and cancellation; see {@link FromIterableOptions}.
 * @returns A Readable of the items.
 * @throws {TypeError} When `iterable` is neither iterable nor async iterable.
 *
 * @example
 * ```ts
 * import { fromIterable } from 'sluice';
 * const stream = fromIterable(new Set([1, 2]));
 * assert.deepEqual(await stream.toArray(), [1, 2]);
 * ```
 */
export function fromIterable<T>(iterable: Iterable<T> | AsyncIterable<T>, options?: FromIterableOptions): Readable {
  const ok = iterable !== null && typeof iterable === 'object' && (Symbol.iterator in iterable || Symbol.asyncIterator in iterable);
  if (!ok) check.invalid('fromIterable()', 'iterable', 'an iterable or async iterable', iterable);
  const opts = stageOptions('fromIterable()', check.options('fromIterable()', options, 'options', ['highWaterMark', 'signal']));
  const stream = Readable.from(iterable, { objectMode: true, highWaterMark: opts.readableHighWaterMark });
  bindSignal(stream, opts.signal);
  return stream;
}
