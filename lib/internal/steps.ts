// What a function's result means, written once. The engine's loop, its generated fast path (fuse.ts)
// and everything built on them (chain, split's fused functions, parallel, the CLI, thread workers)
// read results through these two rules and nothing else.
import { describe } from './validate.js';

/** What every function run by a sluice stage receives besides the item. */
export interface StageContext {
  /** Aborted when the stage is destroyed (error anywhere in the pipeline, abort, early end). */
  signal: AbortSignal;
  /** 0-based position of the item among those this function has been given. */
  index: number;
  /**
   * The 1-based number of the input line the item came from, in functions fused into a `split()`
   * (`chain([split(), fn])`, split's `map`); `undefined` elsewhere.
   */
  line?: number | undefined;
  /** With `line`: the byte offset of that line's start in the input (0-based). */
  offset?: number | undefined;
}

/** Several items from one function call; see `many()`. */
export class Many<T> {
  readonly values: Iterable<T>;
  constructor(values: Iterable<T>) {
    this.values = values;
  }
}

/**
 * How a step's result is read:
 * - `map`: a value goes on; `undefined` (or `null`) drops the item; `many()` and generator objects give several.
 * - `filter`: a truthy result lets the input through unchanged.
 * - `flatMap`: the result is iterated (iterable or async iterable); `undefined`/`null` gives nothing.
 * A promise is awaited first, in every kind.
 */
export type StepKind = 'map' | 'filter' | 'flatMap';

export type StepFn = (value: unknown, ctx: StageContext) => unknown;

export interface Step {
  kind: StepKind;
  fn: StepFn;
}

/** A result the quick rule cannot settle: a promise, several items, or anything of flatMap's. */
export const SLOW: unique symbol = Symbol('sluice.slow');

export type Quick = (result: unknown, input: unknown) => unknown;

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function isGeneratorObject(value: object): boolean {
  const tag = (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  return tag === 'Generator' || tag === 'AsyncGenerator';
}

/** An object result that is just a value: cheap checks that fail for promises, `many()` and generators. */
function isPlainValue(value: object): boolean {
  return !(value instanceof Many) && typeof (value as { then?: unknown }).then !== 'function' && typeof (value as { next?: unknown }).next !== 'function';
}

/**
 * The rule for a result returned synchronously, per kind: the value that goes on to the next step,
 * `undefined` when the item is dropped, or {@link SLOW} when only {@link outcome} (after awaiting a
 * promise) can tell. Small and monomorphic, so V8 inlines each at its call site.
 */
export const quick: Readonly<Record<StepKind, Quick>> = {
  map: (result) => {
    // `null` drops too: a stream cannot carry it (pushing it would end the stream).
    if (result === undefined || result === null) return undefined;
    return typeof result === 'object' && !isPlainValue(result) ? SLOW : result;
  },
  filter: (result, input) => (isThenable(result) ? SLOW : result ? input : undefined),
  flatMap: () => SLOW,
};

export function notIterable(value: unknown): TypeError {
  return new TypeError(`flatMap(): the function must return an iterable or async iterable, got ${describe(value)}`);
}

/**
 * The rule for a settled result (never a promise): `undefined` when the item is dropped, a
 * {@link Many} whose values each go on, or the one value that goes on.
 */
export function outcome(kind: StepKind, result: unknown, input: unknown): unknown {
  if (kind === 'filter') return result ? input : undefined;
  if (result === undefined || result === null) return undefined;
  if (kind === 'flatMap') {
    const iterable = typeof result === 'string' || (typeof result === 'object' && (Symbol.iterator in result || Symbol.asyncIterator in result));
    if (!iterable) throw notIterable(result);
    return new Many(result as Iterable<unknown>);
  }
  if (result instanceof Many) return result;
  if (typeof result === 'object' && isGeneratorObject(result)) return new Many(result as Iterable<unknown>);
  return result;
}
