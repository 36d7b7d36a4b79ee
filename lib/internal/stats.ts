// Per-stage counters and times, always on and cheap. Counters are plain increments on the hot path.
// Times: `busy` is the time the stage's own code ran (timed for one item in SAMPLE, without the time
// its pushes spent downstream, and counted SAMPLE times over) plus the time it had calls in flight;
// `blocked` is the time its output was full and `starved` the rest of its running time. One shared
// sampler (an unref'd 10 ms interval while any stage runs) looks at running stages for those two.

/** A snapshot of one stage's counters and times; see `stats()` on every sluice stage. */
export interface StageStats {
  /** The `name` option, or its function's name, or its combinator's (`map`, `parallel`…). */
  readonly name: string;
  /** Items written to the stage. */
  readonly itemsIn: number;
  /** Items it passed on. */
  readonly itemsOut: number;
  /** Items that gave nothing (a filter's no, `undefined`), for stages that give one item or none per item. */
  readonly filtered: number;
  /** Items dropped on purpose: `onError: 'skip'`, a buffer's overflow. */
  readonly dropped: number;
  /** Failures of users' functions (skipped or replaced ones included). */
  readonly errors: number;
  /** Calls tried again (`retry`). */
  readonly retries: number;
  /** Items being worked on right now. */
  readonly inFlight: number;
  /** Milliseconds with work waiting or running. */
  readonly busyMs: number;
  /** Milliseconds with nothing to do while the input had not ended. */
  readonly starvedMs: number;
  /** Milliseconds with the output full: waiting for downstream. */
  readonly blockedMs: number;
}

/** What the sampler reads of a stage right now. */
export interface Probe {
  /** Its output buffer is full. */
  blocked(): boolean;
  /** Calls in flight (async work). */
  busy(): boolean;
}

const TICK = 10;
/** One item in this many has its processing timed. */
export const SAMPLE = 64;

/** The counters of one stage; the stage increments them, the sampler adds the times. */
export class Counters {
  name: string;
  itemsIn = 0;
  itemsOut = 0;
  filtered = 0;
  dropped = 0;
  errors = 0;
  retries = 0;
  inFlight = 0;
  /** Time its code ran (sampled, see `timed`), and its calls were in flight or its output full. */
  #cpuMs = 0;
  #asyncMs = 0;
  #blockedMs = 0;
  #runningMs = 0;
  readonly #probe: Probe;
  /** When the sampler last looked (or the stage started); undefined while not running. */
  #since: number | undefined;
  /** Items until the next one is timed. */
  #countdown = SAMPLE;
  /** The item being timed: when it began, and the time its pushes spent downstream. */
  #began: number | undefined;
  #pushing = 0;
  #factor = SAMPLE;

  constructor(name: string, probe: Probe) {
    this.name = name;
    this.#probe = probe;
  }

  /** The stage got its first input: the clock runs until `stop()`. */
  start(): void {
    if (this.#since !== undefined) return;
    this.#since = performance.now();
    running.add(this);
    sampler ??= setInterval(sample, TICK).unref();
  }

  /** The stage ended or was destroyed. */
  stop(): void {
    if (this.#since === undefined) return;
    this.look(performance.now());
    this.#since = undefined;
    running.delete(this);
    if (running.size === 0) {
      clearInterval(sampler);
      sampler = undefined;
    }
  }

  look(now: number): void {
    if (this.#since === undefined) return;
    const elapsed = now - this.#since;
    this.#since = now;
    this.#runningMs += elapsed;
    if (this.#probe.blocked()) this.#blockedMs += elapsed;
    else if (this.inFlight > 0 || this.#probe.busy()) this.#asyncMs += elapsed;
  }

  /** Whether to time the item (or chunk) that begins now: one in `every`. Call `done()` after it if so. */
  timed(every = SAMPLE): boolean {
    if (--this.#countdown > 0) return false;
    this.#countdown = every;
    this.begin(every);
    return true;
  }

  /** Times the item (or chunk) that begins now, standing for `factor` of them. Call `done()` after it. */
  begin(factor: number): void {
    this.#factor = factor;
    this.#began = performance.now();
    this.#pushing = 0;
  }

  /** A timed item's push took from `from` to now (and so did `times - 1` others not timed): not its own time. */
  pushed(from: number, times = 1): void {
    this.#pushing += (performance.now() - from) * times;
  }

  /** The timed item is done: its own time, `every` times over, is the stage's busy time for that many items. */
  done(): void {
    if (this.#began === undefined) return;
    this.#cpuMs += Math.max(0, performance.now() - this.#began - this.#pushing) * this.#factor;
    this.#began = undefined;
  }

  snapshot(): StageStats {
    this.look(performance.now());
    const { name, itemsIn, itemsOut, filtered, dropped, errors, retries, inFlight } = this;
    const busyMs = Math.min(this.#runningMs, this.#cpuMs + this.#asyncMs);
    const blockedMs = Math.min(this.#runningMs - busyMs, this.#blockedMs);
    const starvedMs = Math.max(0, this.#runningMs - busyMs - blockedMs);
    return { name, itemsIn, itemsOut, filtered, dropped, errors, retries, inFlight, busyMs, starvedMs, blockedMs };
  }
}

const running = new Set<Counters>();
let sampler: NodeJS.Timeout | undefined;

function sample(): void {
  const now = performance.now();
  for (const counters of running) counters.look(now);
}

/** The sampler's probe for a plain Duplex, Transform or Writable: its output buffer (it runs no async calls). */
export function bufferProbe(stream: { readableLength?: number; readableHighWaterMark?: number }): Probe {
  return {
    blocked: () =>
      stream.readableHighWaterMark !== undefined && stream.readableHighWaterMark > 0 && (stream.readableLength ?? 0) >= stream.readableHighWaterMark,
    busy: () => false,
  };
}

/**
 * Marks a stream that counts: one with `[statsOf]` true and a `stats()` method returning
 * {@link StageStats} appears in pipeline()'s stats reports. Every sluice stage has it; exported for
 * streams of your own (the CLI's input reader uses it).
 */
export const statsOf: unique symbol = Symbol.for('sluice.stats');

/** A stage that counts. */
export interface Counted {
  stats(): StageStats;
}

export function isCounted(value: unknown): value is Counted {
  return typeof (value as { stats?: unknown } | null)?.stats === 'function' && (value as { [statsOf]?: unknown })[statsOf] === true;
}

/** pipeline()'s report of its stages, every `statsInterval` ms and once at the end (`done`). */
export interface StatsReport {
  /** Milliseconds since the pipeline started. */
  readonly elapsedMs: number;
  /** Every sluice stage, in order (a `chain()` of several streams as its parts). */
  readonly stages: readonly StageStats[];
  /**
   * The stage that limits throughput, with the reason in words: see {@link findBottleneck}. `index` is
   * -1 for the source (every stage waits for input) and `stages.length` for the sink (the last stage
   * waits for it); undefined when no stage has run long enough to tell.
   */
  readonly bottleneck: { readonly index: number; readonly name: string; readonly reason: string } | undefined;
  /** The last report: the pipeline has settled. */
  readonly done: boolean;
}

const share = (part: number, s: StageStats): number => {
  const total = s.busyMs + s.starvedMs + s.blockedMs;
  return total === 0 ? 0 : part / total;
};
const percent = (x: number): string => `${Math.round(x * 100)}%`;

/**
 * The bottleneck, by this rule: the busiest stage (largest share of its time with work waiting or
 * running) whose downstream is starved at least a quarter of its time, or that is the last stage;
 * it must be busy at least half its time. Otherwise, when the first stage is starved more than half
 * its time, the source; when the last one is blocked more than half its time, the sink.
 */
export function findBottleneck(stages: readonly StageStats[]): StatsReport['bottleneck'] {
  let best: number | undefined;
  stages.forEach((s, i) => {
    const next = stages[i + 1];
    const downstreamStarved = next === undefined || share(next.starvedMs, next) >= 0.25;
    if (downstreamStarved && share(s.busyMs, s) >= 0.5 && (best === undefined || share(s.busyMs, s) > share(stages[best]!.busyMs, stages[best]!))) best = i;
  });
  if (best !== undefined) {
    const s = stages[best]!;
    const next = stages[best + 1];
    const after = next === undefined ? '' : ` while ${next.name} after it was starved ${percent(share(next.starvedMs, next))}`;
    return {
      index: best,
      name: s.name,
      reason: `${s.name} was busy ${percent(share(s.busyMs, s))} of the time${after}: it sets the pace (give it parallel() or threads())`,
    };
  }
  const first = stages[0];
  const last = stages[stages.length - 1];
  if (first !== undefined && share(first.starvedMs, first) > 0.5) {
    return {
      index: -1,
      name: 'source',
      reason: `${first.name}, the first stage, waited for input ${percent(share(first.starvedMs, first))} of the time: the source sets the pace`,
    };
  }
  if (last !== undefined && share(last.blockedMs, last) > 0.5) {
    return {
      index: stages.length,
      name: 'sink',
      reason: `${last.name}, the last stage, waited for the sink ${percent(share(last.blockedMs, last))} of the time: the sink sets the pace`,
    };
  }
  return undefined;
}

/** Inner stages of a composite (a chain of several streams), for the report. */
export const partsOf: unique symbol = Symbol.for('sluice.parts');

/** The counted stages among `stages`, a composite's parts in its place. */
export function counted(stages: readonly unknown[]): Counted[] {
  return stages.flatMap((stage): Counted[] => {
    const parts = (stage as { [partsOf]?: readonly unknown[] } | null)?.[partsOf];
    if (parts !== undefined) return counted(parts);
    return isCounted(stage) ? [stage] : [];
  });
}

/**
 * Counters for a stage that is not an engine: `stats()` (and the key pipeline() looks for) defined on
 * it, its buffers as the sampler's probe unless it gives its own, the clock stopped when it closes.
 * The stage counts items in and out, and calls `start()` with its first item.
 */
export function count(
  stream: { readableLength?: number; readableHighWaterMark?: number; writableLength?: number; once(event: 'close', listener: () => void): unknown },
  name: string,
  probe: Probe = bufferProbe(stream),
): Counters {
  const counters = new Counters(name, probe);
  Object.defineProperties(stream, {
    stats: { value: (): StageStats => counters.snapshot() },
    [statsOf]: { value: true },
  });
  stream.once('close', () => counters.stop());
  return counters;
}
