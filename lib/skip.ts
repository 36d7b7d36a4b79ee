import { Engine } from './internal/engine.js';
import { stageOptions, type StageOptions } from './internal/stage-options.js';
import type { TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

/** Options for {@link skip}. */
export interface SkipOptions extends StageOptions {}

/**
 * Drops the first `n` items and passes on the rest.
 *
 * @typeParam T The items.
 * @param n How many items to drop.
 * @param options Buffering and cancellation; see {@link SkipOptions}.
 * @returns A Duplex.
 * @throws {RangeError} When `n` is not an integer >= 0.
 *
 * @example Skip a header line
 * ```ts
 * import { skip, toArray } from 'sluice';
 * assert.deepEqual(await toArray(['name,age', 'ada,36'], skip(1)), ['ada,36']);
 * ```
 */
export function skip<T>(n: number, options?: SkipOptions): TypedDuplex<T, T> {
  check.integer('skip()', 'n', n, 0);
  const opts = { ...stageOptions('skip()', check.options('skip()', options, 'options', check.STAGE_KEYS)), plain: options === undefined };
  opts.name ??= 'skip';
  return new Engine([{ kind: 'filter', fn: (_item, { index }) => index >= n }], opts);
}
