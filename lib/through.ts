import { Transform, type TransformCallback } from 'node:stream';
import { Checkpoint, passesCheckpoints } from './internal/checkpoint.js';
import { count, type Counters } from './internal/stats.js';
import { stageOptions, bindSignal, failWith, type StageOptions } from './internal/stage-options.js';
import type { itemTypes, TypedDuplex } from './internal/types.js';
import * as check from './internal/validate.js';

/** Options for {@link through}. */
export interface ThroughOptions extends StageOptions {}

/** through2's classic transform: push with `this.push`, then call `callback` (optionally with an item). */
export type ClassicTransform<I, O> = (this: Transform, chunk: I, encoding: BufferEncoding, callback: (error?: Error | null, data?: O) => void) => void;
/** An async transform: its resolved value is pushed, `undefined` pushes nothing. */
export type AsyncTransform<I, O> = (this: Transform, chunk: I, encoding: BufferEncoding) => Promise<O | undefined>;
// One signature rather than a union of the two forms: TypeScript types the parameters and `this` of
// an inline function only from a single signature.
/** through2's classic flush, or an async one whose resolved value is pushed. */
// biome-ignore lint/suspicious/noConfusingVoidType: the classic form returns nothing; `undefined` would refuse a function typed as returning void.
export type FlushFunction<O> = (this: Transform, callback: (error?: Error | null, data?: O) => void) => void | PromiseLike<O | undefined>;
/** Either form of the per-item function, as {@link through} takes it. */
type TransformFunction<I, O> = (
  this: Transform,
  chunk: I,
  encoding: BufferEncoding,
  callback: (error?: Error | null, data?: O) => void,
  // biome-ignore lint/suspicious/noConfusingVoidType: as FlushFunction's.
) => void | PromiseLike<O | undefined>;

const WHERE = 'through()';
const AsyncFunction = (async () => {}).constructor;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function isAsync(fn: unknown): boolean {
  return fn instanceof AsyncFunction;
}

/**
 * The Transform behind {@link through}: the user's functions installed as `_transform` and `_flush`
 * (the latter only when given, as through2 does), counting what they take and push.
 */
export class Through<I = unknown, O = I> extends Transform implements TypedDuplex<I, O> {
  declare readonly [itemTypes]?: { in: (value: I) => void; out: O };
  readonly #counters: Counters;
  readonly #transformItem: (this: Transform, chunk: unknown, encoding: BufferEncoding, callback: TransformCallback) => void;

  constructor(transform?: TransformFunction<I, O>, flush?: FlushFunction<O>, options?: ThroughOptions) {
    if (transform !== undefined) check.func(WHERE, 'transform', transform);
    if (flush !== undefined) check.func(WHERE, 'flush', flush);
    const opts = stageOptions(WHERE, check.options(WHERE, options));
    super({ objectMode: true, readableHighWaterMark: opts.readableHighWaterMark, writableHighWaterMark: opts.writableHighWaterMark });
    // What a function throws or rejects with, falsy values included (`callback(undefined)` would be success).
    const fail = (error: unknown): void => failWith(this, error);
    this.#transformItem = transformItem(transform, fail);
    if (flush !== undefined) this._flush = flushFunction(flush, fail);
    this.#counters = count(this, opts.name ?? (transform?.name || 'through'));
    bindSignal(this, opts.signal);
  }

  /** Passes checkpoints on by the user's function (see checkpoint.ts). */
  get [passesCheckpoints](): boolean {
    return true;
  }

  // Checkpoints pass by the user's function: everything before one has been transformed when it comes.
  override _transform(chunk: unknown, encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk instanceof Checkpoint) {
      callback(null, chunk);
      return;
    }
    this.#counters.start();
    this.#counters.itemsIn++;
    this.#transformItem.call(this, chunk, encoding, callback);
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk !== null && chunk !== undefined && !(chunk instanceof Checkpoint)) this.#counters.itemsOut++;
    return super.push(chunk, encoding);
  }
}

/** `_transform` for the user's function: items unchanged without one. */
function transformItem<I, O>(
  transform: TransformFunction<I, O> | undefined,
  fail: (error: unknown) => void,
): (this: Transform, chunk: unknown, encoding: BufferEncoding, callback: TransformCallback) => void {
  if (transform === undefined) return (chunk, _enc, callback) => callback(null, chunk);
  if (isAsync(transform)) {
    const fn = transform as AsyncTransform<I, O>;
    return function (this: Transform, chunk, enc, callback) {
      fn.call(this, chunk as I, enc).then((out) => callback(null, out), fail);
    };
  }
  const fn = transform as ClassicTransform<I, O>;
  // A synchronous throw would otherwise escape from write() instead of destroying the stream.
  return function (this: Transform, chunk, enc, callback) {
    let result: unknown;
    try {
      result = fn.call(this, chunk as I, enc, callback);
    } catch (err) {
      fail(err);
      return;
    }
    // A plain function returning a promise (`(n) => fetch(n).then(…)`) is an async transform too:
    // without a callback parameter it could never call back.
    if (fn.length < 3 && isThenable(result)) result.then((out) => callback(null, out), fail);
  };
}

/** `_flush` for the user's flush function, classic or async. */
function flushFunction<O>(flush: FlushFunction<O>, fail: (error: unknown) => void): (this: Transform, callback: TransformCallback) => void {
  if (isAsync(flush)) {
    const fn = flush as (this: Transform) => Promise<O | undefined>;
    return function (this: Transform, callback) {
      fn.call(this).then((out) => callback(null, out), fail);
    };
  }
  const fn = flush as (this: Transform, callback: TransformCallback) => unknown;
  return function (this: Transform, callback) {
    let result: unknown;
    // Node catches a throw here too, but reads a falsy one as success.
    try {
      result = fn.call(this, callback);
    } catch (err) {
      fail(err);
      return;
    }
    // As for `transform`: a plain function taking no callback and returning a promise is an async flush.
    if (fn.length === 0 && isThenable(result)) result.then((out) => callback(null, out), fail);
  };
}

/**
 * The typed equivalent of through2 (object mode): a Transform from a function with through2's
 * signature, `function (chunk, encoding, callback) { this.push(a); callback(); }`, or an `async`
 * function whose resolved value is pushed (`undefined` pushes nothing), plus an optional `flush`.
 * Without `transform`, items pass through unchanged.
 *
 * Errors given to `callback`, thrown, or rejected destroy the stream with that very error; a thrown or
 * rejected falsy value (`throw undefined`) is an error too (`pipeline` rejects with it), while
 * `callback(null)` or `callback()` is success, as in through2.
 *
 * @typeParam I The items written in.
 * @typeParam O The items pushed out.
 * @param transform The per-item function; `this` is the Transform.
 * @param flush Called at the end, before the stream finishes.
 * @param options Buffering and cancellation; see {@link ThroughOptions}.
 * @returns A Transform.
 * @throws {TypeError} When `transform` or `flush` is given but is not a function.
 *
 * @example The classic form
 * ```ts
 * import { through, toArray } from 'sluice';
 * const twice = through<number, number>(function (n, _enc, callback) {
 *   this.push(n);
 *   this.push(n);
 *   callback();
 * });
 * assert.deepEqual(await toArray([1, 2], twice), [1, 1, 2, 2]);
 * ```
 *
 * @example An async function and a flush
 * ```ts
 * import { through, toArray } from 'sluice';
 * const t = through<number, number>(async (n) => n * 10, async () => -1);
 * assert.deepEqual(await toArray([1, 2], t), [10, 20, -1]);
 * ```
 */
export function through<I, O = I>(transform?: TransformFunction<I, O>, flush?: FlushFunction<O>, options?: ThroughOptions): TypedDuplex<I, O> & Transform {
  return new Through<I, O>(transform, flush, options);
}
