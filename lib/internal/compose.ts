// Stages connected into one run: `connect()` is the errgroup under pipeline() and under the Duplex that
// chain() builds around several streams (`Composed`).
import { Duplex, finished, type DuplexOptions } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { TimeoutError } from '../errors.js';
import { passesCheckpoints, passesOn } from './checkpoint.js';
import { counted, findBottleneck, partsOf, type StatsReport } from './stats.js';
import { bindSignal, failWith, Thrown, thrownValue, type ResolvedStageOptions } from './stage-options.js';
import { isNodeAbort, isTeardownNoise } from './node-compat.js';
import { isThenable } from './steps.js';
import { canEndEarly, closed, endsEarly, isNodeStream } from './streams.js';

type Callback = (error?: Error | null) => void;

// stream/promises pipeline takes every kind of stage we accept; its overloads cannot express a list.
const runSegment = streamPipeline as unknown as (stages: unknown[], options: { signal: AbortSignal }) => Promise<void>;

const ignore = (): void => {};

const discard = async (source: AsyncIterable<unknown>): Promise<void> => {
  for await (const _ of source);
};

/**
 * `iterable` as an async iterable whose failures go through `fail`. A plain iterator rather than an
 * async generator around `yield*`: that one made a fast generator source half as slow again.
 */
function rethrown(iterable: Iterable<unknown> | AsyncIterable<unknown>, fail: (error: unknown) => never): AsyncIterable<unknown> {
  const asyncIterator = (iterable as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
  if (typeof asyncIterator === 'function') {
    return {
      [Symbol.asyncIterator]: () => {
        const it = asyncIterator.call(iterable);
        return {
          next: () => it.next().then(undefined, fail),
          return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ value, done: true }),
        };
      },
    };
  }
  return {
    [Symbol.asyncIterator]: () => {
      const it = (iterable as Iterable<unknown>)[Symbol.iterator]();
      return {
        next: () => {
          let step: IteratorResult<unknown>;
          try {
            step = it.next();
          } catch (error) {
            return fail(error);
          }
          // `for await` awaits what next() returns, and (over a sync iterable) a promise it yields.
          if (step.done !== true && isThenable(step.value)) return Promise.resolve(step.value).then((value) => ({ value, done: false }), fail);
          return step as unknown as Promise<IteratorResult<unknown>>;
        },
        return: (value?: unknown) => Promise.resolve(it.return?.(value) ?? { value, done: true }),
      };
    },
  };
}

/**
 * What a source or function stage throws or rejects with, passed to `record` first, then on to Node's
 * pipeline. A falsy value goes on wrapped in a {@link Thrown}: Node reads a falsy error as success, and
 * a stream fed by the failing iterable would then wait forever for its end.
 */
function guard(stage: unknown, index: number, record: (error: unknown) => void): unknown {
  const fail = (error: unknown): never => {
    const wrapped = error ? error : new Thrown(error);
    record(wrapped);
    throw wrapped;
  };
  // Arrays cannot throw; a source iterable (or what a source function returns) may be sync, a later
  // function's result is a promise or an async iterable.
  const guarded = (value: unknown): unknown => {
    if (isThenable(value)) return Promise.resolve(value).catch(fail);
    const iterable =
      typeof value === 'object' &&
      value !== null &&
      !isNodeStream(value) &&
      !Array.isArray(value) &&
      (Symbol.asyncIterator in value || (index === 0 && Symbol.iterator in value));
    return iterable ? rethrown(value as Iterable<unknown> | AsyncIterable<unknown>, fail) : value;
  };
  if (typeof stage !== 'function') return index === 0 ? guarded(stage) : stage;
  return (...args: unknown[]): unknown => {
    let result: unknown;
    try {
      result = (stage as (...args: unknown[]) => unknown)(...args);
    } catch (error) {
      fail(error);
    }
    return guarded(result);
  };
}

/** pipeline()'s stats reports: the callback and how often. */
export interface StatsOptions {
  onStats: (report: StatsReport) => void;
  interval: number;
}

/**
 * Runs `stages` (as `stream/promises` pipeline takes them) with `pipeline()`'s semantics: the first
 * real error or the abort reason is the answer (a falsy thrown value unwrapped), every stage is
 * destroyed on failure, and it settles only once every stage has closed. No timer or listener of its
 * own survives it.
 */
export async function connect(stages: unknown[], signal: AbortSignal | undefined, timeout: number | undefined, stats?: StatsOptions): Promise<void> {
  const controller = new AbortController();
  const started = performance.now();
  const parts = stats === undefined ? [] : counted(stages);
  const report = (done: boolean): void => {
    const snapshots = parts.map((part) => part.stats());
    stats?.onStats({ elapsedMs: performance.now() - started, stages: snapshots, bottleneck: findBottleneck(snapshots), done });
  };
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
  const reporter =
    stats === undefined
      ? undefined
      : setInterval(() => {
          try {
            report(false);
          } catch (error) {
            abort(error ? error : new Thrown(error));
          }
        }, stats.interval);
  // A stream whose reader stopped (a sink that breaks out of its loop or throws) is destroyed by Node
  // with a bare AbortError: not the answer. The reader's own error, if any, is what its segment rejects with.
  const onError = (error: unknown): void => {
    if (!isNodeAbort(error)) record(error);
  };
  for (const stream of streams) stream.on('error', onError);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });

  // What a source or function stage throws is recorded as it happens: Node's pipeline may otherwise
  // report the AbortError of the stream it tore down first.
  stages = stages.map((stage, i) => guard(stage, i, record));
  // A stage that ends early holds upstream's writes past its limit, so as the last stage it would never
  // finish: what it passes on is read and dropped, as nothing else reads it.
  const last = stages[stages.length - 1];
  if (canEndEarly(last) && last.readable !== false && typeof last.read === 'function') stages.push(discard);

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
    const results = await Promise.allSettled(segments.map((segment) => runSegment(segment, { signal: controller.signal })));
    // A stage that ended early tears down every segment before it, including ones ending in a stage
    // that did not end early itself (a `take` that got fewer items than it could take).
    const ends = segments.map((segment) => segment[segment.length - 1]);
    const endedEarly = (i: number): boolean => ends.slice(i).some((end) => canEndEarly(end) && end[endsEarly]());
    const failures = results.flatMap((result, i) => {
      if (result.status === 'fulfilled') return [];
      return endedEarly(i) && isTeardownNoise(result.reason, true) ? [] : [result.reason];
    });
    failures.forEach(record);
    if (first === undefined && failures.length > 0) first = { error: failures[0] };
    await Promise.all(streams.map(closed));
    clearInterval(reporter);
    if (stats !== undefined) {
      try {
        report(true);
      } catch (error) {
        first ??= { error };
      }
    }
    if (first !== undefined) throw thrownValue(first.error);
  } finally {
    clearTimeout(timer);
    clearInterval(reporter);
    signal?.removeEventListener('abort', onAbort);
    for (const stream of streams) stream.off('error', onError);
  }
}

/**
 * One Duplex in front of several streams run by {@link connect}: writes go to the first, reads come
 * from the last. An error in any of them destroys the whole, also one the last raises after its
 * writable side finished (the run has settled then); destroying the whole destroys every one and
 * calls back only once they have all closed.
 */
export class Composed extends Duplex {
  readonly #streams: Duplex[];
  readonly #head: Duplex;
  readonly #tail: Duplex;
  #onDrain: Callback | undefined;
  /** Write-only: `_final`'s callback, called once every inner stream has finished. */
  #onFinished: Callback | undefined;

  constructor(streams: Duplex[], opts: ResolvedStageOptions) {
    const head = streams[0]!;
    const tail = streams[streams.length - 1]!;
    // `readable`/`writable` are Duplex options that @types/node does not declare.
    super({
      objectMode: true,
      readableHighWaterMark: opts.readableHighWaterMark,
      writableHighWaterMark: opts.writableHighWaterMark,
      readable: tail.readable !== false && typeof tail.read === 'function',
      writable: head.writable !== false && typeof head.write === 'function',
    } as DuplexOptions);
    this.#streams = streams;
    this.#head = head;
    this.#tail = tail;
    // The inner streams can error while the whole is being destroyed, after the run has settled.
    for (const stream of streams) stream.on('error', ignore);
    connect(streams, undefined, undefined).then(
      () => {
        if (this.readable) return;
        const callback = this.#onFinished;
        this.#onFinished = undefined;
        // Without a pending _final, the run ended early (`take` inside): nothing more is wanted.
        if (callback === undefined) this.destroy();
        else callback();
      },
      (error: unknown) => failWith(this, error),
    );
    if (this.writable) {
      head.on('drain', () => {
        const callback = this.#onDrain;
        this.#onDrain = undefined;
        callback?.();
      });
    }
    if (this.readable) {
      tail.on('data', (chunk: unknown) => {
        if (!this.push(chunk)) tail.pause();
      });
      tail.once('end', () => this.push(null));
      // The run settles once the last stream's writable side has finished, but it may still fail, or
      // close without ending, while it gives its last items: listen until it has ended.
      finished(tail, { writable: false }, (error) => {
        if (error) failWith(this, error);
      });
    }
    const enders = streams.filter(canEndEarly);
    if (enders.length > 0) {
      // The whole ends early when a stage inside does (`take` in a chain): its readable side is done
      // while upstream may still be writing.
      const ended = (): boolean => enders.some((stage) => stage[endsEarly]());
      Object.defineProperty(this, endsEarly, { value: ended });
      this.once('end', () => {
        if (ended()) this.destroy();
      });
    }
    bindSignal(this, opts.signal);
  }

  /** Its streams, for pipeline()'s stats report. */
  get [partsOf](): readonly Duplex[] {
    return this.#streams;
  }

  /** Passes checkpoints on when every stream inside does (see checkpoint.ts). */
  get [passesCheckpoints](): boolean {
    return this.#streams.every(passesOn);
  }

  override _write(chunk: unknown, encoding: BufferEncoding, callback: Callback): void {
    if (this.#head.write(chunk, encoding)) callback();
    else this.#onDrain = callback;
  }

  override _final(callback: Callback): void {
    this.#head.end();
    // Readable: the end of the readable side tells when the inner streams are done.
    if (this.readable) callback();
    else this.#onFinished = callback;
  }

  override _read(): void {
    this.#tail.resume();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    for (const stream of this.#streams) if (!stream.destroyed) stream.destroy(error ?? undefined);
    Promise.all(this.#streams.map(closed)).then(() => callback(error));
  }
}
