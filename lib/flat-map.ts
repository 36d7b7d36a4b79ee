import { Engine, type StageContext } from './internal/engine.js';
import { stageOptions, type StageOptions } from './internal/stage-options.js';
import type { Flattenable, TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

/** Options for {@link flatMap}. */
export interface FlatMapOptions extends StageOptions {}

/**
 * An object-mode stage that calls `fn` on each item and passes on every item of what it returns:
 * an array, any iterable, an async iterable (or a promise of one); `undefined` or `null` passes nothing.
 *
 * Outputs are produced one at a time and paused while downstream is full, so a generator yielding
 * millions of items per input never fills memory. On destroy, `signal` aborts and a generator that
 * `fn` returned is closed (its `finally` runs). Errors pass through as the same object.
 *
 * @typeParam I The items written in.
 * @typeParam O The items read out.
 * @param fn Called as `fn(item, { signal, index })`.
 * @param options Buffering and cancellation; see {@link FlatMapOptions}.
 * @returns A Duplex: items in, flattened results out.
 * @throws {TypeError} When `fn` is not a function or an option is of the wrong type.
 *
 * @example Words from lines
 * ```ts
 * import { flatMap, toArray } from 'sluice';
 * const out = await toArray(['a b', 'c'], flatMap((line: string) => line.split(' ')));
 * assert.deepEqual(out, ['a', 'b', 'c']);
 * ```
 *
 * @example A generator
 * ```ts
 * import { flatMap, toArray } from 'sluice';
 * const out = await toArray([2, 3], flatMap(function* (n: number) {
 *   for (let i = 0; i < n; i++) yield n;
 * }));
 * assert.deepEqual(out, [2, 2, 3, 3, 3]);
 * ```
 */
export function flatMap<I, O>(fn: (item: I, ctx: StageContext) => Flattenable<O> | PromiseLike<Flattenable<O>>, options?: FlatMapOptions): TypedDuplex<I, O> {
  check.func('flatMap()', 'fn', fn);
  const opts = { ...stageOptions('flatMap()', check.options('flatMap()', options, 'options', check.STAGE_KEYS)), plain: options === undefined };
  opts.name ??= fn.name || 'flatMap';
  return new Engine([{ kind: 'flatMap', fn: fn as (value: unknown, ctx: StageContext) => unknown }], opts);
}
