import type { Duplex } from 'node:stream';
import { Composed } from './internal/compose.js';
import { Engine, Many, type StageContext, type Step } from './internal/engine.js';
import { bindSignal, poolOptions, stageOptions, type AdaptiveConcurrency, type StageOptions } from './internal/stage-options.js';
import { fromWebOneByOne } from './internal/node-compat.js';
import { isNodeStream } from './internal/streams.js';
import type { ParallelOptions } from './parallel.js';
import type { TypedReadable } from './from-iterable.js';
import type { itemTypes, OnError, TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

/** Options for {@link chain}. */
export interface ChainOptions<I = unknown, O = unknown> extends StageOptions {
  /**
   * How many items run through the chain's fused functions at once (an integer >= 1): with more than
   * one, async functions overlap, as in {@link parallel}; `'auto'` or `{ min, max, initial }` for a
   * limit that follows latency and failures (see {@link ParallelOptions.concurrency}). @default 1
   */
  concurrency?: number | 'auto' | AdaptiveConcurrency;
  /** With `concurrency` > 1: outputs in input order; `false` passes them on as items finish. @default true */
  ordered?: boolean;
  /**
   * What to do when a fused function throws or rejects for an item: `'fail'` destroys the chain with
   * that error, `'skip'` drops the item, a function's return value is passed on instead (`undefined`
   * drops it). Items fused into a `split()` fail with a {@link LineError} naming the line.
   * @default 'fail'
   */
  onError?: OnError<I, O>;
}

/** What a function stage may return for items of type `O`. */
export type StageResult<O> =
  | O
  | undefined
  | null
  | Many<O>
  | Generator<O, unknown, undefined>
  | AsyncGenerator<O, unknown, undefined>
  | PromiseLike<O | undefined | null | Many<O>>;

/** One stage of a chain taking `I` and giving `O`: a function, a sluice stage or Node stream, or a Web TransformStream. */
export type ChainStage<I, O> = ((item: I, ctx: StageContext) => StageResult<O>) | TypedDuplex<I, O> | TransformStream<I, O>;

// A Readable may open a chain and a Writable close it; their items are not typed, so the stage next to
// one is typed by its own annotation. Inferred as type parameters so that a Duplex, which is both, is
// refused here and checked as a ChainStage (an optional `write?: never` marker would fail overload
// resolution's subtype pass, which then loses the inference of the functions after it).
/** A Readable that is not writable. */
type Source<R extends NodeJS.ReadableStream> = R extends NodeJS.WritableStream ? never : typeof itemTypes extends keyof R ? never : R;
/** A Writable that is not readable. */
type Sink<W extends NodeJS.WritableStream> = W extends NodeJS.ReadableStream ? never : W;

/**
 * A stage of a chain too long for the typed overloads (8 stages or more). The function is declared as a
 * method, whose parameter TypeScript compares bivariantly, so a function of any item type fits:
 * neighbours are not checked, as in `pipeline`.
 */
interface UncheckedFunction {
  stage(item: unknown, ctx: StageContext): unknown;
}
type UncheckedStage = UncheckedFunction['stage'] | Duplex | NodeJS.ReadableStream | NodeJS.WritableStream | TransformStream<never, unknown>;

/**
 * Several items from one call of a function stage: `return many([a, b])`. Empty means none.
 * Items are passed on one at a time, paused while downstream is full.
 *
 * @typeParam T The items.
 * @param values Any iterable.
 * @returns A marker the chain unpacks.
 *
 * @example
 * ```ts
 * import { chain, many, toArray } from 'sluice';
 * assert.deepEqual(await toArray([1, 2], chain([(n: number) => many([n, -n])])), [1, -1, 2, -2]);
 * ```
 */
export function many<T>(values: Iterable<T>): Many<T> {
  if (values === null || typeof values !== 'object' || !(Symbol.iterator in values)) {
    check.invalid('many()', 'values', 'an iterable', values);
  }
  return new Many(values);
}

function isTransformStream(value: unknown): value is TransformStream {
  return typeof TransformStream !== 'undefined' && value instanceof TransformStream;
}

/**
 * Composes stages into ONE Duplex, like stream-chain's `chain`, with adjacent function stages FUSED
 * into a single stream hop: five functions cost one Transform, not five.
 *
 * A function stage (sync or async) is called as `fn(item, { signal, index })`; `undefined` (or
 * `null`) passes nothing on, `many(values)` passes several, a generator function's yields are items (paused while
 * downstream is full). Node streams and Web `TransformStream`s stay as they are; a Readable may open
 * the chain and a Writable close it (the chain is then read-only or write-only). `chain([])` passes
 * items through.
 *
 * An error thrown in any stage destroys the chain with that very error object; destroying the chain
 * destroys every inner stream, aborts the functions' `signal` and closes running generators (their
 * `finally` runs).
 *
 * @typeParam A The items written in.
 * @typeParam Z The items read out.
 * @param stages The stages, in order.
 * @param options Buffering and cancellation of the whole; see {@link ChainOptions}.
 * @returns One Duplex.
 * @throws {TypeError} When `stages` is not an array, or a stage is of a kind the chain cannot use.
 *
 * @example Five functions, one stream hop
 * ```ts
 * import { chain, toArray } from 'sluice';
 * const c = chain([
 *   (s: string) => s.trim(),
 *   (s) => (s === '' ? undefined : s),
 *   (s) => s.split('='),
 *   ([k, v]) => ({ key: k ?? '', value: Number(v) }),
 *   async (kv) => `${kv.key}:${kv.value * 2}`,
 * ]);
 * assert.deepEqual(await toArray([' a=1 ', '', 'b=2'], c), ['a:2', 'b:4']);
 * ```
 *
 * @example Generators and streams in a chain
 * ```ts
 * import { chain, toArray, map } from 'sluice';
 * const c = chain([
 *   function* (n: number) { for (let i = 0; i < n; i++) yield i; },
 *   map((i: number) => i * 10),
 *   (i: number) => i + 1,
 * ]);
 * assert.deepEqual(await toArray([2, 1], c), [1, 11, 1]);
 * ```
 */
export function chain<A>(stages: readonly [], options?: ChainOptions): TypedDuplex<A, A>;
export function chain<A, B, R extends NodeJS.ReadableStream = never, W extends NodeJS.WritableStream = never>(
  stages: readonly [ChainStage<A, B> | TypedReadable<B> | Source<R> | Sink<W>],
  options?: ChainOptions,
): TypedDuplex<A, B>;
export function chain<A, B, C, R extends NodeJS.ReadableStream = never, W extends NodeJS.WritableStream = never>(
  stages: readonly [ChainStage<A, B> | TypedReadable<B> | Source<R>, ChainStage<B, C> | Sink<W>],
  options?: ChainOptions,
): TypedDuplex<A, C>;
export function chain<A, B, C, D, R extends NodeJS.ReadableStream = never, W extends NodeJS.WritableStream = never>(
  stages: readonly [ChainStage<A, B> | TypedReadable<B> | Source<R>, ChainStage<B, C>, ChainStage<C, D> | Sink<W>],
  options?: ChainOptions,
): TypedDuplex<A, D>;
export function chain<A, B, C, D, E, R extends NodeJS.ReadableStream = never, W extends NodeJS.WritableStream = never>(
  stages: readonly [ChainStage<A, B> | TypedReadable<B> | Source<R>, ChainStage<B, C>, ChainStage<C, D>, ChainStage<D, E> | Sink<W>],
  options?: ChainOptions,
): TypedDuplex<A, E>;
export function chain<A, B, C, D, E, F, R extends NodeJS.ReadableStream = never, W extends NodeJS.WritableStream = never>(
  stages: readonly [ChainStage<A, B> | TypedReadable<B> | Source<R>, ChainStage<B, C>, ChainStage<C, D>, ChainStage<D, E>, ChainStage<E, F> | Sink<W>],
  options?: ChainOptions,
): TypedDuplex<A, F>;
export function chain<A, B, C, D, E, F, G, R extends NodeJS.ReadableStream = never, W extends NodeJS.WritableStream = never>(
  stages: readonly [
    ChainStage<A, B> | TypedReadable<B> | Source<R>,
    ChainStage<B, C>,
    ChainStage<C, D>,
    ChainStage<D, E>,
    ChainStage<E, F>,
    ChainStage<F, G> | Sink<W>,
  ],
  options?: ChainOptions,
): TypedDuplex<A, G>;
export function chain<A, B, C, D, E, F, G, H, R extends NodeJS.ReadableStream = never, W extends NodeJS.WritableStream = never>(
  stages: readonly [
    ChainStage<A, B> | TypedReadable<B> | Source<R>,
    ChainStage<B, C>,
    ChainStage<C, D>,
    ChainStage<D, E>,
    ChainStage<E, F>,
    ChainStage<F, G>,
    ChainStage<G, H> | Sink<W>,
  ],
  options?: ChainOptions,
): TypedDuplex<A, H>;
// Longer lists give a plain Duplex (the README's promise).
export function chain(
  stages: readonly [
    UncheckedStage,
    UncheckedStage,
    UncheckedStage,
    UncheckedStage,
    UncheckedStage,
    UncheckedStage,
    UncheckedStage,
    UncheckedStage,
    ...UncheckedStage[],
  ],
  options?: ChainOptions,
): Duplex;
// Arrays of unknown length: functions must take `unknown` here, so a short list whose stages do not fit
// together stays a type error instead of falling through to this overload.
export function chain(
  stages: readonly (ChainStage<unknown, unknown> | Duplex | NodeJS.ReadableStream | NodeJS.WritableStream)[],
  options?: ChainOptions,
): Duplex;
export function chain(stages: readonly unknown[], options?: ChainOptions): Duplex {
  if (!Array.isArray(stages)) check.invalid('chain()', 'stages', 'an array', stages);
  const given = check.options('chain()', options, 'options', [...check.STAGE_KEYS, 'concurrency', 'ordered', 'onError']);
  const opts = stageOptions('chain()', given);
  const pool = poolOptions('chain()', given, 1);
  const inner = { ...opts, ...pool, signal: undefined };
  const streams: Duplex[] = [];
  let steps: Step[] = [];
  const flush = (): void => {
    if (steps.length === 0) return;
    // Functions right after a split() run inside it, per line (see the doc).
    const before = streams[streams.length - 1];
    if (!(before instanceof Engine && before.absorb(steps, pool)))
      streams.push(new Engine(steps, { ...inner, name: opts.name ?? `chain(${steps.map((step) => step.fn.name || 'fn').join(', ')})` }));
    steps = [];
  };
  stages.forEach((stage, i) => {
    if (typeof stage === 'function') {
      steps.push({ kind: 'map', fn: stage as Step['fn'] });
      return;
    }
    const fusible = stage instanceof Engine ? stage.fusible() : undefined;
    if (fusible !== undefined) {
      steps.push(...fusible);
      return;
    }
    flush();
    if (isTransformStream(stage)) {
      // One item at a time: Node 20's fromWeb crashes the process when a buffered write fails.
      streams.push(fromWebOneByOne(stage));
    } else if (isNodeStream(stage)) {
      const readableOnly = typeof (stage as Partial<Duplex>).write !== 'function';
      const writableOnly = typeof (stage as Partial<Duplex>).read !== 'function';
      if (readableOnly && i !== 0) throw new TypeError(`chain(): stages[${i}] is a Readable; only the first stage may be one`);
      if (writableOnly && i !== stages.length - 1) throw new TypeError(`chain(): stages[${i}] is a Writable; only the last stage may be one`);
      streams.push(stage);
    } else {
      check.invalid('chain()', `stages[${i}]`, 'a function, a Node stream or a TransformStream', stage);
    }
  });
  flush();
  if (streams.length === 0) return new Engine([], inner);
  if (streams.length === 1) {
    const only = streams[0]!;
    bindSignal(only, opts.signal);
    return only;
  }
  return new Composed(streams, opts);
}
