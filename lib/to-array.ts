import { pipeline, type PipelineSource } from './pipeline.js';
import type { TypedDuplex } from './internal/types.js';
import type { AnyStream } from './internal/streams.js';

/**
 * Runs `source` through `stages` (with {@link pipeline}'s error and cleanup semantics) and collects
 * every item that comes out into an array. Meant for tests and small inputs: the array grows with the
 * output.
 *
 * @typeParam T The items collected.
 * @param source A Readable, an iterable or an async iterable.
 * @param stages Streams to run the items through, in order.
 * @returns The items, in the order they came out.
 *
 * @example
 * ```ts
 * import { toArray, map } from 'sluice';
 * assert.deepEqual(await toArray(['x', 'y'], map((s: string) => s + '!')), ['x!', 'y!']);
 * ```
 */
export function toArray<T>(source: Iterable<T> | AsyncIterable<T>): Promise<T[]>;
export function toArray<T>(source: PipelineSource, ...stages: [...AnyStream[], TypedDuplex<never, T>]): Promise<T[]>;
export function toArray(source: PipelineSource, ...stages: AnyStream[]): Promise<unknown[]>;
export async function toArray(source: PipelineSource, ...stages: AnyStream[]): Promise<unknown[]> {
  const items: unknown[] = [];
  await pipeline(source, ...stages, async (input: AsyncIterable<unknown>) => {
    for await (const item of input) items.push(item);
  });
  return items;
}

/** The same as {@link toArray}. */
export const collect = toArray;
