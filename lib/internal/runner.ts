// Runs one item through a list of steps, reading every result by the rules of steps.ts: the
// generated path first (fuse.ts), the loop below for what it hands over. No stream here: the engine
// (engine.ts) and the thread workers (worker.ts) say where outputs go and when to pause.
import { fuse } from './fuse.js';
import { isThenable, Many, outcome, quick, SLOW, type Quick, type StageContext, type Step, type StepFn, type StepKind } from './steps.js';

type Pending = Promise<void> | undefined;

/** What the runner needs to know of the item it runs. */
export interface RunnerLane {
  /** The input line it came from (steps fused into a split), for `ctx.line`. */
  line: number | undefined;
  /** With `line`: the byte offset of its start, for `ctx.offset`. */
  offset?: number;
}

/** Where a runner's outputs go, and when it must pause. */
export interface RunnerHooks<L> {
  /** An output of the item on `lane`. */
  emit(value: unknown, lane: L): undefined;
  /**
   * Several outputs at once (a last step's `many()` of an array), when they may all be held without
   * waiting: returns false to have them emitted one by one instead.
   */
  emitAll?(values: readonly unknown[], lane: L): boolean;
  /** Whether `lane` must wait before passing on more (between the outputs of a generator, `many()`…). */
  blocked(lane: L): boolean;
  /** Resolves when `lane` may go on. */
  wait(lane: L): Promise<void>;
  /** The run was stopped (the stage destroyed): iterations end. */
  stopped(): boolean;
}

/**
 * Runs items through `steps`, synchronously until a step returns a promise: `run()` returns
 * `undefined` when the item is done, or a promise when something went async.
 */
export class Runner<L extends RunnerLane> {
  readonly #fns: StepFn[];
  readonly #kinds: StepKind[];
  readonly #rules: Quick[];
  readonly #counts: number[];
  readonly #shared: (StageContext | undefined)[];
  readonly #box: { signal: AbortSignal };
  readonly #located: boolean;
  readonly #hooks: RunnerHooks<L>;
  readonly #fused: ((value: unknown, lane: L) => Pending) | undefined;
  readonly #iterators = new Set<Iterator<unknown> | AsyncIterator<unknown>>();

  constructor(steps: readonly Step[], signal: AbortSignal, located: boolean, hooks: RunnerHooks<L>) {
    this.#fns = steps.map((step) => step.fn);
    this.#kinds = steps.map((step) => step.kind);
    this.#rules = steps.map((step) => quick[step.kind]);
    this.#counts = steps.map(() => 0);
    // A function that declares no second parameter (or gives it a default) gets one context object,
    // filled in at call time: one allocation less per call. One that declares it gets its own, which
    // stays valid after an await.
    this.#shared = steps.map((step) =>
      step.fn.length < 2 ? (located ? { signal, index: 0, line: undefined, offset: undefined } : { signal, index: 0 }) : undefined,
    );
    this.#box = { signal };
    this.#located = located;
    this.#hooks = hooks;
    this.#fused = fuse<L>({
      fns: this.#fns,
      rules: this.#rules,
      shared: this.#shared,
      counts: this.#counts,
      box: this.#box,
      located,
      slow: (at, result, input, lane) => this.#slow(at, result, input, lane),
      emit: hooks.emit,
    });
  }

  /** The signal the functions get from now on (a thread worker gives each batch its own). */
  set signal(signal: AbortSignal) {
    this.#box.signal = signal;
    for (const ctx of this.#shared) if (ctx !== undefined) ctx.signal = signal;
  }

  /** Runs `value` through every step; a promise when something went async. Throws what a step throws. */
  run(value: unknown, lane: L): Pending {
    return this.#fused !== undefined ? this.#fused(value, lane) : this.#from(lane, value, 0);
  }

  /** Closes the iterations still running (their `finally` blocks run). */
  close(): void {
    // Deliberately not awaited: a generator parked mid-await would leave return() pending.
    for (const it of this.#iterators) void Promise.resolve(it.return?.()).catch(() => {});
    this.#iterators.clear();
  }

  /** The loop: the steps from `from` on `value`. */
  #from(lane: L, value: unknown, from: number): Pending {
    if (value === undefined || value === null) return undefined;
    const fns = this.#fns;
    for (let i = from; i < fns.length; i++) {
      let ctx = this.#shared[i];
      if (ctx === undefined) {
        ctx = this.#located
          ? { signal: this.#box.signal, index: this.#counts[i]!++, line: lane.line, offset: lane.offset }
          : { signal: this.#box.signal, index: this.#counts[i]!++ };
      } else {
        ctx.index = this.#counts[i]!++;
        if (this.#located) {
          ctx.line = lane.line;
          ctx.offset = lane.offset;
        }
      }
      const result = fns[i]!(value, ctx);
      const next = this.#rules[i]!(result, value);
      if (next === SLOW) return this.#slow(i, result, value, lane);
      if (next === undefined) return undefined;
      value = next;
    }
    return this.#hooks.emit(value, lane);
  }

  #slow(at: number, result: unknown, input: unknown, lane: L): Pending {
    if (!isThenable(result)) return this.#settled(at, result, input, lane);
    // Kept out of #from: a closure there would cost a context allocation per step on the sync path too.
    return Promise.resolve(result).then((settled) => (this.#hooks.stopped() ? undefined : this.#settled(at, settled, input, lane)));
  }

  /** Reads a settled step result: drop, go on with one value, or go on with each of several. */
  #settled(at: number, result: unknown, input: unknown, lane: L): Pending {
    const out = outcome(this.#kinds[at]!, result, input);
    if (out === undefined) return undefined;
    if (out instanceof Many) {
      const values = out.values;
      // An array out of the last step, where the outputs may be held whole (a thread's batch): no loop per item.
      if (at + 1 === this.#fns.length && Array.isArray(values) && this.#hooks.emitAll?.(values, lane) === true) return undefined;
      return this.#each(lane, values as Iterable<unknown> | AsyncIterable<unknown>, at + 1);
    }
    return this.#from(lane, out, at + 1);
  }

  /** Sends each of `values` through the steps from `from`, pausing while the lane may not pass more on. */
  #each(lane: L, values: Iterable<unknown> | AsyncIterable<unknown>, from: number): Pending {
    const asyncIterator = (values as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
    if (typeof asyncIterator === 'function') return this.#loop(lane, asyncIterator.call(values), from, undefined);
    const it = (values as Iterable<unknown>)[Symbol.iterator]();
    const hooks = this.#hooks;
    // Fast path: iterate synchronously until something goes async or the lane must wait.
    try {
      while (!hooks.blocked(lane)) {
        const step = it.next();
        if (step.done === true) return undefined;
        const pending = this.#from(lane, step.value, from);
        if (pending !== undefined) return this.#loop(lane, it, from, pending);
      }
    } catch (error) {
      it.return?.();
      throw error;
    }
    return this.#loop(lane, it, from, undefined);
  }

  async #loop(lane: L, it: Iterator<unknown> | AsyncIterator<unknown>, from: number, pending: Pending): Promise<void> {
    const hooks = this.#hooks;
    this.#iterators.add(it);
    let finished = false;
    try {
      if (pending !== undefined) await pending;
      for (;;) {
        while (hooks.blocked(lane) && !hooks.stopped()) await hooks.wait(lane);
        if (hooks.stopped()) return;
        const step = await it.next();
        if (step.done === true) {
          finished = true;
          return;
        }
        if (hooks.stopped()) return;
        const next = this.#from(lane, step.value, from);
        if (next !== undefined) await next;
      }
    } finally {
      if (this.#iterators.delete(it) && !finished) await it.return?.();
    }
  }
}
