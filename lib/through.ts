import { Transform, type TransformCallback } from 'node:stream';
import { Checkpoint, passesCheckpoints } from './internal/checkpoint.js';
import { count } from './internal/stats.js';
import { stageOptions, bindSignal, failWith, type StageOptions } from './internal/stage-options.js';
import type { TypedDuplex } from './internal/types.js';
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
export type FlushFunction<O> = (this: Transform, callback: (error?: Error | null, data?: O) => void) => void | PromiseLike<O | undefined>;
/** Either form of the per-item function, as {@link through} takes it. */
type TransformFunction<I, O> = (this: Transform, chunk: I, encoding: BufferEncoding, callback: (error?: Error | null, data?: O) => void) => void | PromiseLike<O | undefined>;

const AsyncFunction = (async () => {}).constructor;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function isAsync(fn: Function): boolean {
  return fn instanceof AsyncFunction;
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
export function through<I, O = I>(
  transform?: TransformFunction<I, O>,
  flush?: FlushFunction<O>,
  options?: ThroughOptions,
): TypedDuplex<I, O> & Transform {
  if (transform !== undefined) check.func('through()', 'transform', transform);
  if (flush !== undefined) check.func('through()', 'flush', flush);
  const opts = stageOptions('through()', check.options('through()', options));
  const stream = new Transform({
    objectMode: true,
    readableHighWaterMark: opts.readableHighWaterMark,
    writableHighWaterMark: opts.writableHighWaterMark,
  });
  // What a function throws or rejects with, falsy values included (`callback(undefined)` would be success).
  const fail = (error: unknown): void => failWith(stream, error);
  if (transform === undefined) {
    stream._transform = (chunk: unknown, _enc: BufferEncoding, callback: TransformCallback) => callback(null, chunk);
  } else if (isAsync(transform)) {
    const fn = transform as AsyncTransform<I, O>;
    stream._transform = function (this: Transform, chunk: I, enc: BufferEncoding, callback: TransformCallback) {
      fn.call(this, chunk, enc).then((out) => callback(null, out), fail);
    };
  } else {
    const fn = transform as ClassicTransform<I, O>;
    // A synchronous throw would otherwise escape from write() instead of destroying the stream.
    stream._transform = function (this: Transform, chunk: I, enc: BufferEncoding, callback: TransformCallback) {
      let result: unknown;
      try {
        result = fn.call(this, chunk, enc, callback);
      } catch (err) {
        fail(err);
        return;
      }
      // A plain function returning a promise (`(n) => fetch(n).then(…)`) is an async transform too:
      // without a callback parameter it could never call back.
      if (fn.length < 3 && isThenable(result)) result.then((out) => callback(null, out), fail);
    };
  }
  // Checkpoints pass by the user's function: everything before one has been transformed when it comes.
  const counters = count(stream, opts.name ?? (transform?.name || 'through'));
  const transformItem = stream._transform;
  stream._transform = function (this: Transform, chunk: unknown, enc: BufferEncoding, callback: TransformCallback) {
    if (chunk instanceof Checkpoint) {
      callback(null, chunk);
      return;
    }
    counters.start();
    counters.itemsIn++;
    transformItem.call(this, chunk, enc, callback);
  };
  const push = stream.push.bind(stream);
  stream.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk !== null && chunk !== undefined && !(chunk instanceof Checkpoint)) counters.itemsOut++;
    return push(chunk, encoding);
  };
  Object.defineProperty(stream, passesCheckpoints, { value: true });
  if (flush !== undefined) {
    if (isAsync(flush)) {
      const fn = flush as (this: Transform) => Promise<O | undefined>;
      stream._flush = function (this: Transform, callback: TransformCallback) {
        fn.call(this).then((out) => callback(null, out), fail);
      };
    } else {
      const fn = flush as (this: Transform, callback: TransformCallback) => unknown;
      stream._flush = function (this: Transform, callback: TransformCallback) {
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
  }
  bindSignal(stream, opts.signal);
  return stream;
}
