import { AckSink } from './internal/ack-sink.js';
import { handles, passesOn, withoutCheckpoints } from './internal/checkpoint.js';
import { connect } from './internal/compose.js';
import type { StatsReport } from './internal/stats.js';
import type { Writable } from 'node:stream';
import { isNodeStream, type AnyStream } from './internal/streams.js';
import * as check from './internal/validate.js';

/** Options for {@link pipeline}, given as the last argument. */
export interface PipelineOptions {
  /** Aborting it destroys every stage; the promise rejects with `signal.reason`, unchanged. @default undefined */
  signal?: AbortSignal;
  /** Milliseconds until every stage is destroyed and the promise rejects with a `TimeoutError`. @default undefined (no limit) */
  timeout?: number;
  /**
   * Called every `statsInterval` ms, and once when the pipeline has settled (`report.done`), with the
   * counters and times of every sluice stage and the bottleneck (see `StatsReport`). An error it throws
   * fails the pipeline.
   * @default undefined
   */
  onStats?: (report: StatsReport) => void;
  /** Milliseconds between two `onStats` reports. @default 1000 */
  statsInterval?: number;
}

/** A function stage, as `stream/promises` pipeline takes it: gets the previous stage's items. */
export type PipelineFunction = (source: AsyncIterable<unknown>, options: { signal: AbortSignal }) => unknown;

/** The first stage: a stream, an iterable, an async iterable, or a function returning one. */
export type PipelineSource = AnyStream | Iterable<unknown> | AsyncIterable<unknown> | (() => Iterable<unknown> | AsyncIterable<unknown>);

/** Any later stage: a stream or a function of the previous stage's items. */
export type PipelineStage = AnyStream | PipelineFunction;

const WHERE = 'pipeline()';

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

function isIterable(value: unknown): boolean {
  const v = value as Partial<Iterable<unknown> & AsyncIterable<unknown>> | null | undefined;
  return typeof v?.[Symbol.iterator] === 'function' || typeof v?.[Symbol.asyncIterator] === 'function';
}

/** Refuses, by position, a stage that Node's pipeline would not even start with, or would wait on forever. */
function checkStage(stage: unknown, i: number): void {
  const name = `stages[${i}]`;
  if (typeof stage === 'function') return;
  if (i === 0) {
    if (!isNodeStream(stage) && !isIterable(stage)) check.invalid(WHERE, name, 'a stream, an iterable, an async iterable or a function', stage);
    return;
  }
  if (!isNodeStream(stage)) check.invalid(WHERE, name, 'a stream or a function', stage);
  if (typeof stage.write !== 'function') throw new TypeError(`${WHERE}: ${name} is a Readable; only the first stage may be one`);
  // Destroyed by an error (an aborted signal, a failed run), it fails the run with that error; finished
  // or destroyed without one, it would never finish again.
  if (stage.destroyed && stage.errored == null) {
    const state = stage.writableFinished || stage.readableEnded ? 'already finished' : 'been destroyed';
    throw new TypeError(`${WHERE}: ${name} (${stage.constructor.name}) has ${state}; a stage runs only once`);
  }
}

/**
 * A source that acknowledges its items (a Redis consumer group) writes checkpoints among them: every
 * stage in between must pass them on in order, and the last one resolves them, or is wrapped so that
 * each is resolved once the items written to it before have been called back. Refused otherwise,
 * naming the stage: acknowledgements silently lost would mean work silently lost.
 */
function acknowledged(stages: unknown[]): void {
  for (let i = 1; i < stages.length - 1; i++) {
    const stage = stages[i];
    if (!passesOn(stage)) {
      const what = typeof stage === 'function' ? 'a function' : `${(stage as object).constructor.name}`;
      throw new TypeError(
        `${WHERE}: stages[${i}] (${what}) does not pass checkpoints on; with a source that acknowledges its items (stages[0]), every stage between must be a sluice stage (map, filter, chain, parallel, threads, batch…)`,
      );
    }
  }
  const end = stages.length - 1;
  const last = stages[end];
  if (handles(last)) return;
  if (typeof last === 'function') {
    const fn = last as (source: AsyncIterable<unknown>, options: { signal: AbortSignal }) => unknown;
    stages[end] = (source: AsyncIterable<unknown>, options: { signal: AbortSignal }) => fn(withoutCheckpoints(source), options);
  } else stages[end] = new AckSink(last as Writable);
}

/**
 * Connects stages and resolves when the last one has finished, with errgroup semantics: the first
 * error or abort destroys every stage and the promise rejects with THAT error (never with a generic
 * premature close), an abort rejects with `signal.reason`, and `timeout` rejects with a `TimeoutError`.
 * A falsy thrown value (`throw undefined`) is an error too: the promise rejects with that very value.
 * It settles only once every stage has closed; no timer or listener of its own remains afterwards.
 *
 * Stages are what `stream/promises` pipeline takes: Node streams (every sluice stage is one),
 * iterables and async iterables as the source, async generator functions in between, an async
 * function as the sink. A stage that ends early (`take`) ends the stages before it; as the last
 * stage, what it passes on is dropped. A stage runs once: pass a new one to each pipeline. With a
 * source that acknowledges its items (`redisSource` of `sluice/redis`), every stage in between must be
 * a sluice stage, and an item counts as done once the last stage has taken it (see the README).
 *
 * @param args The stages, optionally followed by {@link PipelineOptions}.
 * @returns A promise that resolves when every stage has finished.
 * @throws {TypeError} (synchronously) when fewer than two stages are given, a stage is not a stream or
 *   a function (the source: not an iterable either), a stream has already finished or was destroyed
 *   without an error, or an option is invalid.
 * @throws {RangeError} (synchronously) when `timeout` is not a number of milliseconds > 0 and <= 2^31 - 1.
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
  const options = isOptions(last) ? check.options(WHERE, last, 'options', ['signal', 'timeout', 'onStats', 'statsInterval']) : {};
  const stages = [source, ...(options === last ? rest.slice(0, -1) : rest)] as unknown[];
  if (stages.length < 2) throw new TypeError(`${WHERE}: needs at least two stages, got ${stages.length}`);
  stages.forEach(checkStage);
  if (handles(stages[0])) acknowledged(stages);
  const signal = options.signal === undefined ? undefined : check.signal(WHERE, 'options.signal', options.signal);
  const timeout = options.timeout === undefined ? undefined : check.delay(WHERE, 'options.timeout', options.timeout);
  const onStats = options.onStats === undefined ? undefined : check.func<(report: StatsReport) => void>(WHERE, 'options.onStats', options.onStats);
  const interval = options.statsInterval === undefined ? 1000 : check.delay(WHERE, 'options.statsInterval', options.statsInterval);
  return connect(stages, signal, timeout, onStats === undefined ? undefined : { onStats, interval });
}
