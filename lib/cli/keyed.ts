// --partition-by EXPR: the per-line stages run in a sub-chain per key, --parallel keys at once, each
// key's lines in order. Lines travel tagged with their number and key (computed while still fused into
// split(), so that a failing key is located and --skip-errors skips it), so that NR/FNR still work
// inside and an error still names FILE:LINE.
import type { Duplex } from 'node:stream';
import { chain, LineError, many, partition } from '../index.js';
import { failureOf } from './errors.js';
import type { ItemFn } from './expr.js';
import type { Skips } from './program.js';

/** A line (or record) on its way through a key's sub-chain, with its line number. */
class Tagged {
  constructor(
    readonly value: unknown,
    readonly line: number,
    readonly offset: number,
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
    if (kind === 'map') return new Tagged(result, item.line, item.offset, item.key);
    return many(Array.from(result as Iterable<unknown>, (value) => new Tagged(value, item.line, item.offset, item.key)));
  };
  return (value, ctx) => {
    const item = value as Tagged;
    const result = fn(item.value, { signal: ctx.signal, index: ctx.index, line: item.line, offset: item.offset });
    return isPromise(result) ? Promise.resolve(result).then((value) => out(item, value)) : out(item, result);
  };
}

/**
 * What goes after split() in an input's chain: a function that tags each line with its number and key
 * (fused into the split), the partition running the steps per key, and a function that unwraps.
 */
export function keyedStages(steps: readonly KeyedStep[], key: ItemFn, opts: { file: string; concurrency: number; skips: Skips | undefined }): [ItemFn, Duplex, ItemFn] {
  const onError = (error: unknown, item: unknown): undefined => {
    const { line, offset } = item as Tagged;
    const failure = new LineError({ file: opts.file, line, offset }, error);
    if (opts.skips === undefined) throw failure;
    return opts.skips.add(failureOf(failure));
  };
  // Fused into split(): every line has its number.
  const tag: ItemFn = (value, ctx) => new Tagged(value, ctx.line!, ctx.offset!, key(value, ctx));
  const stage = partition((item: Tagged) => item.key, () => chain(steps.map(tagged), { onError }), { concurrency: opts.concurrency });
  return [tag, stage, (item) => (item as Tagged).value];
}
