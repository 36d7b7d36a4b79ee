import { Engine, type StageContext } from './internal/engine.js';
import { stageOptions, type StageOptions } from './internal/stage-options.js';
import type { Output, TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

/** Options for {@link map}. */
export interface MapOptions extends StageOptions {}

/**
 * An object-mode stage that calls `fn` on each item and passes on what it returns.
 *
 * `fn` may be sync or async. A result of `undefined` (or `null`, which a stream cannot carry) passes nothing on; `many(values)` or a
 * generator passes on several items (paused while downstream is full). An error thrown or rejected
 * by `fn` destroys the stage with that very error; destroying the stage aborts `signal`.
 *
 * @typeParam I The items written in.
 * @typeParam R What `fn` returns (the items read out are derived from it).
 * @param fn Called as `fn(item, { signal, index })`.
 * @param options Buffering and cancellation; see {@link MapOptions}.
 * @returns A Duplex: items in, results out.
 * @throws {TypeError} When `fn` is not a function or an option is of the wrong type.
 *
 * @example Double numbers
 * ```ts
 * import { map, pipeline, toArray } from 'sluice';
 * const out = await toArray([1, 2, 3], map((n: number) => n * 2));
 * assert.deepEqual(out, [2, 4, 6]);
 * ```
 *
 * @example Async, with the stage's signal
 * ```ts
 * import { map, toArray } from 'sluice';
 * import { setTimeout as sleep } from 'node:timers/promises';
 * const out = await toArray(['a', 'b'], map(async (s: string, { signal }) => {
 *   await sleep(1, undefined, { signal });
 *   return s.toUpperCase();
 * }));
 * assert.deepEqual(out, ['A', 'B']);
 * ```
 */
export function map<I, R>(fn: (item: I, ctx: StageContext) => R, options?: MapOptions): TypedDuplex<I, Output<R>> {
  check.func('map()', 'fn', fn);
  const opts = { ...stageOptions('map()', check.options('map()', options, 'options', check.STAGE_KEYS)), plain: options === undefined };
  opts.name ??= fn.name || 'map';
  return new Engine([{ kind: 'map', fn: fn as (value: unknown, ctx: StageContext) => unknown }], opts);
}
