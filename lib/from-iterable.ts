import { Readable } from 'node:stream';
import { stageOptions, bindSignal, type StageOptions } from './internal/stage-options.js';
import type { itemTypes } from './internal/types.js';
import * as check from './internal/validate.js';

/** Options for {@link fromIterable}. */
export interface FromIterableOptions extends Pick<StageOptions, 'highWaterMark' | 'signal'> {}

/**
 * A Readable that also records, for TypeScript only, the items it gives (as a `TypedDuplex` does), so
 * that `chain()` types the stage after it; its `toArray()` gives them too. Its async iterator stays
 * Readable's (`any` items): a typed one would no longer fit where a `NodeJS.ReadableStream` is expected.
 */
export interface TypedReadable<T> extends Readable {
  readonly [itemTypes]?: { in: (value: unknown) => void; out: T };
  toArray(options?: { signal?: AbortSignal }): Promise<T[]>;
}

/**
 * An object-mode Readable over an iterable or async iterable. It pulls only as fast as it is read;
 * destroying it (or aborting `signal`) closes the iterator, so a generator's `finally` runs.
 *
 * @typeParam T The items.
 * @param iterable What to read from.
 * @param options Buffering and cancellation; see {@link FromIterableOptions}.
 * @returns A Readable of the items, typed by them.
 * @throws {TypeError} When `iterable` is neither iterable nor async iterable.
 *
 * @example
 * ```ts
 * import { fromIterable } from 'sluice';
 * const stream = fromIterable(new Set([1, 2]));
 * assert.deepEqual(await stream.toArray(), [1, 2]);
 * ```
 */
export function fromIterable<T>(iterable: Iterable<T> | AsyncIterable<T>, options?: FromIterableOptions): TypedReadable<T> {
  const ok = iterable !== null && typeof iterable === 'object' && (Symbol.iterator in iterable || Symbol.asyncIterator in iterable);
  if (!ok) check.invalid('fromIterable()', 'iterable', 'an iterable or async iterable', iterable);
  const opts = stageOptions('fromIterable()', check.options('fromIterable()', options, 'options', ['highWaterMark', 'signal']));
  const stream = Readable.from(iterable, { objectMode: true, highWaterMark: opts.readableHighWaterMark });
  bindSignal(stream, opts.signal);
  return stream as TypedReadable<T>;
}
