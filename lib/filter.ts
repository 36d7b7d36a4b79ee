import { Engine, type StageContext } from './internal/engine.js';
import { stageOptions, type StageOptions } from './internal/stage-options.js';
import type { TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

/** Options for {@link filter}. */
export interface FilterOptions extends StageOptions {}

/**
 * An object-mode stage that passes on the items for which `predicate` returns a truthy value.
 *
 * `predicate` may be sync or async. An error it throws or rejects with destroys the stage with that
 * very error; destroying the stage aborts `signal`.
 *
 * @typeParam T The items.
 * @typeParam S A narrower type, when `predicate` is a type guard.
 * @param predicate Called as `predicate(item, { signal, index })`.
 * @param options Buffering and cancellation; see {@link FilterOptions}.
 * @returns A Duplex: items in, the kept items out.
 * @throws {TypeError} When `predicate` is not a function or an option is of the wrong type.
 *
 * @example Keep even numbers
 * ```ts
 * import { filter, toArray } from 'sluice';
 * const out = await toArray([1, 2, 3, 4], filter((n: number) => n % 2 === 0));
 * assert.deepEqual(out, [2, 4]);
 * ```
 */
export function filter<T, S extends T>(predicate: (item: T, ctx: StageContext) => item is S, options?: FilterOptions): TypedDuplex<T, S>;
export function filter<T>(predicate: (item: T, ctx: StageContext) => unknown, options?: FilterOptions): TypedDuplex<T, T>;
export function filter<T>(predicate: (item: T, ctx: StageContext) => unknown, options?: FilterOptions): TypedDuplex<T, T> {
  check.func('filter()', 'predicate', predicate);
  const opts = { ...stageOptions('filter()', check.options('filter()', options, 'options', check.STAGE_KEYS)), plain: options === undefined };
  opts.name ??= predicate.name || 'filter';
  return new Engine([{ kind: 'filter', fn: predicate as (value: unknown, ctx: StageContext) => unknown }], opts);
}
