import { Duplex } from 'node:stream';
import { fuse } from './fuse.js';
import { describe } from './validate.js';
import { bindSignal, destroyReason, type ResolvedStageOptions } from './stage-options.js';

/** What every function run by a sluice stage receives besides the item. */
export interface StageContext {
  /** Aborted when the stage is destroyed (error anywhere in the pipeline, abort, early end). */
  signal: AbortSignal;
  /** 0-based position of the item among those this function has been given. */
  index: number;
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
 */
export type StepKind = 'map' | 'filter' | 'flatMap';

export type StepFn = (value: unknown, ctx: StageContext) => unknown;

export interface Step {
  kind: StepKind;
  fn: StepFn;
}

type Pending = Promise<void> | undefined;
type AnyIterator = Iterator<unknown> | AsyncIterator<unknown>;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function isGeneratorObject(value: object): value is Iterable<unknown> | AsyncIterable<unknown> {
  const tag = (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  return tag === 'Generator' || tag === 'AsyncGenerator';
}

/** An object result that is just a value: cheap checks that fail for promises, `many()` and generators. */
function isPlainValue(value: object): boolean {
  return !(value instanceof Many) && typeof (value as { then?: unknown }).then !== 'function' && typeof (value as { next?: unknown }).next !== 'function';
}

function notIterable(value: unknown): TypeError {
  return new TypeError(`flatMap(): the function must return an iterable or async iterable, got ${describe(value)}`);
}

/**
 * The one executor under map, filter, flatMap and chain: runs a list of steps over each item written,
 * synchronously until a step returns a promise, and pushes what comes out of the last step.
 *
 * Backpressure: the write callback is held until every output of the item has been pushed and, if
 * the readable side is full, until `_read` asks for more; an item that yields many outputs (generator,
 * `many()`, flatMap) is paused between outputs while the readable side is full.
 */
export class Engine extends Duplex {
  // The steps, unpacked into parallel arrays read on the hot path.
  readonly #fns: StepFn[];
  readonly #kinds: StepKind[];
  readonly #counts: number[];
  /**
   * Per step: the context object reused for a function that declares no second parameter (or gives
   * it a default), filled in right at call time: one allocation less per call. `undefined` for a
   * function that declares one: it gets its own, which stays valid after an await.
   */
  readonly #shared: (StageContext | undefined)[];
  readonly #controller = new AbortController();
  /** The steps' synchronous path as one generated function (see fuse.ts), when it could be made. */
  readonly #fused: ((value: unknown) => Pending) | undefined;
  readonly #iterators = new Set<AnyIterator>();
  /** The last push() returned false: wait for _read before producing more. */
  #full = false;
  /** Called by _read: a held write callback or a paused iteration. */
  #resume: (() => void) | undefined;

  constructor(steps: Step[], opts: ResolvedStageOptions) {
    super({
      objectMode: true,
      readableHighWaterMark: opts.readableHighWaterMark,
      writableHighWaterMark: opts.writableHighWaterMark,
    });
    this.#fns = steps.map((step) => step.fn);
    this.#kinds = steps.map((step) => step.kind);
    this.#counts = steps.map(() => 0);
    this.#shared = steps.map((step) => (step.fn.length < 2 ? { signal: this.#controller.signal, index: 0 } : undefined));
    this.#fused =
      steps.length === 0
        ? undefined
        : fuse(this.#fns, this.#kinds, this.#shared, this.#counts, this.#controller.signal, {
            slow: (at, result, input) =>
              isThenable(result) ? this.#settle(result, this.#kinds[at]!, input, at) : this.#next(this.#kinds[at]!, result, input, at),
            emit: (value) => {
              if (!this.push(value)) this.#full = true;
              return undefined;
            },
            plain: isPlainValue,
          });
    bindSignal(this, opts.signal);
  }

  /** Aborted when this stage is destroyed; in-flight calls see it. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let pending: Pending;
    try {
      pending = this.#fused === undefined ? this.#run(chunk, 0) : this.#fused(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (pending === undefined) this.#written(callback);
    else pending.then(() => this.#written(callback), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.push(null);
    callback();
  }

  override _read(): void {
    this.#full = false;
    const resume = this.#resume;
    if (resume !== undefined) {
      this.#resume = undefined;
      resume();
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#controller.abort(destroyReason(error));
    // Deliberately not awaited: a generator parked mid-await would leave return() pending.
    for (const it of this.#iterators) void Promise.resolve(it.return?.()).catch(() => {});
    this.#iterators.clear();
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
    callback(error);
  }

  #written(callback: () => void): void {
    if (this.#full && !this.destroyed) this.#resume = callback;
    else callback();
  }

  /** Runs steps from index `from` on `value`; returns a promise only if something went async. */
  #run(value: unknown, from: number): Pending {
    // `undefined` drops an item, and so does `null`, which a stream cannot carry (pushing it would end the stream).
    if (value === undefined || value === null) return undefined;
    const fns = this.#fns;
    for (let i = from; i < fns.length; i++) {
      let ctx = this.#shared[i];
      if (ctx === undefined) ctx = { signal: this.#controller.signal, index: this.#counts[i]!++ };
      else ctx.index = this.#counts[i]!++;
      const result = fns[i]!(value, ctx);
      const kind = this.#kinds[i]!;
      // Fast path: a map step gave one plain value (not a promise, many(), generator, or a drop).
      if (kind === 'map' && result !== undefined && result !== null && (typeof result !== 'object' || isPlainValue(result))) {
        value = result;
        continue;
      }
      if (isThenable(result)) return this.#settle(result, kind, value, i);
      return this.#next(kind, result, value, i);
    }
    if (!this.push(value)) this.#full = true;
    return undefined;
  }

  // Kept out of #run: a closure there would cost a context allocation per step on the sync path too.
  #settle(result: PromiseLike<unknown>, kind: StepKind, input: unknown, at: number): Promise<void> {
    return Promise.resolve(result).then((resolved) => (this.destroyed ? undefined : this.#next(kind, resolved, input, at)));
  }

  /** Reads a settled step result: drop, go on with one value, or go on with each of several. */
  #next(kind: StepKind, result: unknown, input: unknown, at: number): Pending {
    if (kind === 'filter') return result ? this.#run(input, at + 1) : undefined;
    if (result === undefined || result === null) return undefined;
    if (kind === 'flatMap') {
      if (typeof result !== 'object' && typeof result !== 'string') throw notIterable(result);
      return this.#each(result as Iterable<unknown> | AsyncIterable<unknown>, at + 1);
    }
    if (result instanceof Many) return this.#each(result.values, at + 1);
    if (typeof result === 'object' && result !== null && isGeneratorObject(result)) return this.#each(result, at + 1);
    return this.#run(result, at + 1);
  }

  /** Sends each item of `source` through the steps from `from`, pausing while downstream is full. */
  #each(source: Iterable<unknown> | AsyncIterable<unknown>, from: number): Pending {
    if (typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      return this.#loop((source as AsyncIterable<unknown>)[Symbol.asyncIterator](), from, undefined);
    }
    if (typeof (source as Iterable<unknown>)[Symbol.iterator] !== 'function') throw notIterable(source);
    const it = (source as Iterable<unknown>)[Symbol.iterator]();
    // Fast path: iterate synchronously until something goes async or downstream fills up.
    let step: IteratorResult<unknown>;
    try {
      while (!this.#full) {
        step = it.next();
        if (step.done === true) return undefined;
        const pending = this.#run(step.value, from);
        if (pending !== undefined) return this.#loop(it, from, pending);
      }
    } catch (err) {
      it.return?.();
      throw err;
    }
    return this.#loop(it, from, undefined);
  }

  async #loop(it: AnyIterator, from: number, pending: Pending): Promise<void> {
    this.#iterators.add(it);
    let finished = false;
    try {
      if (pending !== undefined) await pending;
      for (;;) {
        if (this.#full) await new Promise<void>((resolve) => (this.#resume = resolve));
        if (this.destroyed) return;
        const step = await it.next();
        if (step.done === true) {
          finished = true;
          return;
        }
        if (this.destroyed) return;
        const next = this.#run(step.value, from);
        if (next !== undefined) await next;
      }
    } finally {
      if (this.#iterators.delete(it) && !finished) await it.return?.();
    }
  }
}
