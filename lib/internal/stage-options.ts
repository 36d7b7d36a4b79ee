import type { Readable, Writable } from 'node:stream';
import type { LimiterSettings } from './limiter.js';
import type { OnError } from './types.js';
import * as check from './validate.js';

/** Options every sluice stage takes. */
export interface StageOptions {
  /**
   * Items buffered on each side before backpressure applies (both sides, unless the side-specific
   * option is given).
   * @default 16
   */
  highWaterMark?: number;
  /** Items buffered on the readable side. @default highWaterMark */
  readableHighWaterMark?: number;
  /** Items buffered on the writable side. @default highWaterMark */
  writableHighWaterMark?: number;
  /**
   * Aborting it destroys the stage with `signal.reason` (unchanged), aborting every in-flight call.
   * @default undefined
   */
  signal?: AbortSignal;
  /** The stage's name in `stats()` and in pipeline()'s stats reports. @default its function's name, or the combinator's */
  name?: string;
}

export interface ResolvedStageOptions {
  readableHighWaterMark: number;
  writableHighWaterMark: number;
  signal: AbortSignal | undefined;
  name?: string;
}

export const DEFAULT_HIGH_WATER_MARK = 16;

/** Validates the common stage options; `where` is the stage's name as in `parallel()`. */
export function stageOptions(where: string, opts: StageOptions): ResolvedStageOptions {
  const hwm = opts.highWaterMark === undefined ? DEFAULT_HIGH_WATER_MARK : check.integer(where, 'options.highWaterMark', opts.highWaterMark, 0);
  return {
    readableHighWaterMark:
      opts.readableHighWaterMark === undefined ? hwm : check.integer(where, 'options.readableHighWaterMark', opts.readableHighWaterMark, 0),
    writableHighWaterMark:
      opts.writableHighWaterMark === undefined ? hwm : check.integer(where, 'options.writableHighWaterMark', opts.writableHighWaterMark, 0),
    signal: opts.signal === undefined ? undefined : check.signal(where, 'options.signal', opts.signal),
    ...(opts.name === undefined ? {} : { name: check.string(where, 'options.name', opts.name) }),
  };
}

/** The bounds of an adaptive concurrency limit (`concurrency: { min, max, initial }`). */
export interface AdaptiveConcurrency {
  /** The lowest limit. @default 1 */
  min?: number;
  /** The highest limit. @default 256 */
  max?: number;
  /** The limit to start with. @default 4, within [min, max] */
  initial?: number;
}

/** How a stage runs its functions: see `chain()`'s and `parallel()`'s options. */
export interface PoolOptions<I = unknown, O = unknown> {
  concurrency?: number | 'auto' | AdaptiveConcurrency;
  ordered?: boolean;
  onError?: OnError<I, O>;
}

/** `concurrency: 'auto' | { min, max, initial }` validated, or undefined for a fixed number. */
function adaptive(where: string, value: unknown): LimiterSettings | undefined {
  if (value !== 'auto' && (typeof value !== 'object' || value === null)) return undefined;
  const opts = value === 'auto' ? {} : check.options(where, value as AdaptiveConcurrency, 'options.concurrency', ['min', 'max', 'initial']);
  const min = opts.min === undefined ? 1 : check.integer(where, 'options.concurrency.min', opts.min, 1);
  const max = opts.max === undefined ? Math.max(min, 256) : check.integer(where, 'options.concurrency.max', opts.max, min);
  const initial = opts.initial === undefined ? Math.min(max, Math.max(min, 4)) : check.integer(where, 'options.concurrency.initial', opts.initial, min);
  if (initial > max) throw new RangeError(`${where}: options.concurrency.initial must be at most max (${max}), got ${initial} (number)`);
  return { min, max, initial };
}

/** Validates {@link PoolOptions}; `concurrency` defaults to `defaultConcurrency`. */
export function poolOptions<I, O>(
  where: string,
  opts: PoolOptions<I, O>,
  defaultConcurrency: number,
): { concurrency: number; ordered: boolean; onError: OnError<unknown, unknown>; adaptive?: LimiterSettings } {
  const onError = opts.onError ?? 'fail';
  if (typeof onError !== 'function') check.oneOf(where, 'options.onError', onError, ['fail', 'skip'] as const);
  const auto = adaptive(where, opts.concurrency);
  if (auto !== undefined)
    return {
      concurrency: auto.initial,
      ordered: opts.ordered === undefined ? true : check.boolean(where, 'options.ordered', opts.ordered),
      onError: onError as OnError<unknown, unknown>,
      adaptive: auto,
    };
  const must = "an integer >= 1, 'auto' or { min, max, initial }";
  if (opts.concurrency !== undefined && typeof opts.concurrency !== 'number') check.invalid(where, 'options.concurrency', must, opts.concurrency);
  return {
    concurrency: opts.concurrency === undefined ? defaultConcurrency : check.integer(where, 'options.concurrency', opts.concurrency, 1),
    ordered: opts.ordered === undefined ? true : check.boolean(where, 'options.ordered', opts.ordered),
    onError: onError as OnError<unknown, unknown>,
  };
}

/**
 * Destroys `stream` with `signal.reason` (unchanged, unlike `addAbortSignal`, which wraps it) when the
 * signal aborts. The listener is removed when the stream closes.
 */
export function bindSignal(stream: Readable | Writable, signal: AbortSignal | undefined): void {
  if (signal === undefined) return;
  if (signal.aborted) {
    // At once, as addAbortSignal does: a stage created with an aborted signal must not run user code.
    stream.destroy(signal.reason);
    return;
  }
  const onAbort = (): void => {
    stream.destroy(signal.reason);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', onAbort));
}

/** The reason a stage's own signal aborts with: the error that destroyed it, or an AbortError. */
export function destroyReason(error: Error | null): unknown {
  return error === null ? new DOMException('The stage was destroyed', 'AbortError') : thrownValue(error);
}

/**
 * A falsy thrown value (`throw undefined`, `0`, `''`, `false`, `null`) on its way through Node's
 * stream machinery, which reads a falsy error as success. `pipeline` rejects with `value` itself.
 */
export class Thrown extends Error {
  readonly value: unknown;

  constructor(value: unknown) {
    super(`a function threw ${typeof value === 'string' ? '""' : String(value)}`);
    this.value = value;
  }
}

/** Destroys `stream` with what a function threw or rejected with, falsy values included. */
export function failWith(stream: Readable | Writable, error: unknown): void {
  stream.destroy(error ? (error as Error) : new Thrown(error));
}

/** The value a stage failed with: a {@link Thrown} wrapper unwrapped. */
export function thrownValue(error: unknown): unknown {
  return error instanceof Thrown ? error.value : error;
}
