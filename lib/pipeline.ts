import { pipeline as streamPipeline } from 'node:stream/promises';
import { TimeoutError } from './errors.js';
import { canEndEarly, closed, endsEarly, isNodeStream, type AnyStream } from './internal/streams.js';
import * as check from './internal/validate.js';

/** Options for {@link pipeline}, given as the last argument. */
export interface PipelineOptions {
  /** Aborting it destroys every stage; the promise rejects with `signal.reason`, unchanged. @default undefined */
  signal?: AbortSignal;
  /** Milliseconds until every stage is destroyed and the promise rejects with a `TimeoutError`. @default undefined (no limit) */
  timeout?: number;
}

/** A function stage, as `stream/promises` pipeline takes it: gets the previous stage's items. */
export type PipelineFunction = (source: AsyncIterable<unknown>, options: { signal: AbortSignal }) => unknown;

/** The first stage: a stream, an iterable, an async iterable, or a function returning one. */
export type PipelineSource = AnyStream | Iterable<unknown> | AsyncIterable<unknown> | (() => Iterable<unknown> | AsyncIterable<unknown>);

/** Any later stage: a stream or a function of the previous stage's items. */
export type PipelineStage = AnyStream | PipelineFunction;

// stream/promises pipeline takes every kind of stage we accept; its overloads cannot express a list.
const runSegment = streamPipeline as unknown as (stages: unknown[], options: { signal: AbortSignal }) => Promise<void>;

function isOptions(value: unknown): value is PipelineOptions {
  return (
    typeof value === 'object' &&
    value !== null &&
    !isNodeStream(value) &&
    !(Symbol.iterator in value) &&
    !(Symbol.asyncIterator in value) &&
    !('readable' in value && 'writable' in value)
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** Wraps a function stage so that the error it throws or rejects with is passed to `record` first. */
function guard(fn: PipelineFunction, record: (error: unknown) => void): PipelineFunction {
  const fail = (error: unknown): never => {
    record(error);
    throw error;
  };
  return (source, options) => {
    let result: unknown;
    try {
      result = fn(source, options);
    } catch (error) {
      fail(error);
    }
    if (isThenable(result)) return Promise.resolve(result).catch(fail);
    if (typeof result === 'object' && result !== null && Symbol.asyncIterator in result) {
      const inner = result as AsyncIterable<unknown>;
      return (async function* () {
        try {
          return yield* inner;
        } catch (error) {
          return fail(error);
        }
      })();
    }
    return result;
  };
}

function isTeardownNoise(err: unknown, aborted: boolean): boolean {
  const e = err as { code?: unknown; name?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  return e.code === 'ERR_STREAM_PREMATURE_CLOSE' || e.code === 'ERR_STREAM_DESTROYED' || (aborted && e.name === 'AbortError');
}

/**
 * Connects stages and resolves when the last one has finished, with errgroup semantics: the first
 * error or abort destroys every stage and the promise rejects with THAT error (never with a generic
 * premature close), an abort rejects with `signal.reason`, and `timeout` rejects with a `TimeoutError`.
 * It settles only once every stage has closed; no timer or listener of its own remains afterwards.
 *
 * Stages are what `stream/promises` pipeline takes: Node streams (every sluice stage is one),
 * iterables and async iterables as the source, async generator functions in between, an async
 * function as the sink. A stage that ends early (`take`) ends the stages before it.
 *
 * @param args The stages, optionally followed by {@link PipelineOptions}.
 * @returns A promise that resolves when every stage has finished.
 * @throws {TypeError} (synchronously) when fewer than two stages are given or an option is invalid.
 *
 * @example Lines of a text, upper-cased, collected
 * ```ts
 * import { pipeline, split, map } from 'sluice';
 * const out: string[] = [];
 * await pipeline(['a\nb', '\nc\n'], split(), map((l: string) => l.toUpperCase()), async (lines) => {
 *   for await (const line of lines) out.push(line as string);
 * });
 * assert.deepEqual(out, ['A', 'B', 'C']);
 * ```
 *
 * @example A timeout
 * ```ts
 * import { pipeline, map, TimeoutError } from 'sluice';
 * import { setTimeout as sleep } from 'node:timers/promises';
 * const slow = map(async (n: number, { signal }) => sleep(1000, n, { signal }));
 * await assert.rejects(pipeline([1, 2], slow, async (src) => { for await (const _ of src); }, { timeout: 20 }), TimeoutError);
 * ```
 */
export function pipeline(source: PipelineSource, ...rest: [...PipelineStage[], PipelineStage | PipelineOptions]): Promise<void> {
  const last = rest[rest.length - 1];
  const options = isOptions(last) ? check.options('pipeline()', last) : {};
  const stages = [source, ...(options === last ? rest.slice(0, -1) : rest)] as unknown[];
  if (stages.length < 2) throw new TypeError(`pipeline(): needs at least two stages, got ${stages.length}`);
  const signal = options.signal === undefined ? undefined : check.signal('pipeline()', 'options.signal', options.signal);
  const timeout = options.timeout === undefined ? undefined : check.number('pipeline()', 'options.timeout', options.timeout, 0, true);
  return run(stages, signal, timeout);
}

async function run(stages: unknown[], signal: AbortSignal | undefined, timeout: number | undefined): Promise<void> {
  const controller = new AbortController();
  const streams = stages.filter(isNodeStream);
  let first: { error: unknown } | undefined;
  const record = (error: unknown): void => {
    if (first === undefined && !isTeardownNoise(error, controller.signal.aborted)) first = { error };
  };
  const abort = (reason: unknown): void => {
    record(reason);
    controller.abort(reason);
  };
  const onAbort = (): void => abort(signal?.reason);
  const timer = timeout === undefined ? undefined : setTimeout(() => abort(new TimeoutError('pipeline()', timeout)), timeout);
  // A stream whose reader stopped (a sink that breaks out of its loop or throws) is destroyed by Node
  // with a bare AbortError: not the answer. The reader's own error, if any, is what its segment rejects with.
  const onError = (error: unknown): void => {
    if ((error as { name?: unknown } | null)?.name !== 'AbortError') record(error);
  };
  for (const stream of streams) stream.on('error', onError);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });

  // What a function stage throws is recorded as it happens: Node's pipeline may otherwise report the
  // AbortError of the stream it tore down first.
  stages = stages.map((stage, i) => (i > 0 && typeof stage === 'function' ? guard(stage as PipelineFunction, record) : stage));

  // Split at stages that may end early, so that the premature close of the stages before one stays
  // in its own segment instead of tearing down the stages after it, which still have work to finish.
  const segments: unknown[][] = [];
  let start = 0;
  for (let i = 1; i < stages.length - 1; i++) {
    if (canEndEarly(stages[i])) {
      segments.push(stages.slice(start, i + 1));
      start = i;
    }
  }
  segments.push(stages.slice(start));

  try {
    const results = await Promise.allSettled(
      segments.map((segment) => runSegment(segment, { signal: controller.signal })),
    );
    const failures = results.flatMap((result, i) => {
      if (result.status === 'fulfilled') return [];
      const end = segments[i]![segments[i]!.length - 1];
      const endedEarly = canEndEarly(end) && end[endsEarly]();
      return endedEarly && isTeardownNoise(result.reason, true) ? [] : [result.reason];
    });
    failures.forEach(record);
    if (first === undefined && failures.length > 0) first = { error: failures[0] };
    await Promise.all(streams.map(closed));
    if (first !== undefined) throw first.error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    for (const stream of streams) stream.off('error', onError);
  }
}
