// --partition-by EXPR: the per-line stages run in a sub-chain per key, --parallel keys at once, each
// key's lines in order. Lines travel tagged with their key and where they came from (computed while
// still fused into the input's chain, so that a failing key is located and --skip-errors skips it):
// a file's line number, so that NR/FNR still work inside and an error names FILE:LINE, or the Redis
// entry the line is, so that an error names, notes or dead-letters it.
import type { Duplex } from 'node:stream';
import { chain, many, partition, type StageContext } from '../index.js';
import type { ItemFn } from './expr.js';

/** Where a tagged line came from: its line number and byte offset (a file's), or the item written in (an entry). */
export interface Where {
  line: number | undefined;
  offset: number | undefined;
  origin: unknown;
}

/** A line (or record) on its way through a key's sub-chain, with where it came from. */
class Tagged {
  constructor(
    readonly value: unknown,
    readonly where: Where,
    readonly key: unknown,
  ) {}
}

export interface KeyedStep {
  kind: 'map' | 'filter' | 'flat-map';
  fn: ItemFn;
}

const isPromise = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/** Runs `fn` on a tagged item as its stage kind would, keeping the tag on what comes out. */
function tagged({ kind, fn }: KeyedStep): ItemFn {
  const out = (item: Tagged, result: unknown): unknown => {
    if (kind === 'filter') return result ? item : undefined;
    if (result === undefined || result === null) return undefined;
    if (kind === 'map') return new Tagged(result, item.where, item.key);
    return many(Array.from(result as Iterable<unknown>, (value) => new Tagged(value, item.where, item.key)));
  };
  return (value, ctx) => {
    const item = value as Tagged;
    const result = fn(item.value, { signal: ctx.signal, index: ctx.index, line: item.where.line, offset: item.where.offset });
    return isPromise(result) ? Promise.resolve(result).then((value) => out(item, value)) : out(item, result);
  };
}

/** The item written into the input's chain that a (possibly tagged) item came from. */
export function origin(item: unknown): unknown {
  return item instanceof Tagged ? item.where.origin : item;
}

/**
 * What goes after the input's first steps in its chain: a function that tags each line with its key
 * and `where(ctx)` it came from (fused into the input's chain), the partition running the steps per
 * key, and a function that unwraps. `onError` decides about a line whose steps failed in a key's
 * sub-chain: it returns undefined to drop it, or throws to stop the run.
 */
export function keyedStages(
  steps: readonly KeyedStep[],
  key: ItemFn,
  opts: { concurrency: number; where: (ctx: StageContext) => Where; onError: (error: unknown, where: Where) => undefined },
): [ItemFn, Duplex, ItemFn] {
  const onError = (error: unknown, item: unknown): undefined => opts.onError(error, (item as Tagged).where);
  const tag: ItemFn = (value, ctx) => new Tagged(value, opts.where(ctx), key(value, ctx));
  const stage = partition(
    (item: Tagged) => item.key,
    () => chain(steps.map(tagged), { onError }),
    { concurrency: opts.concurrency },
  );
  return [tag, stage, (item) => (item as Tagged).value];
}
