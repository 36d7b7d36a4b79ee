import { setMaxListeners } from 'node:events';
import { Transform } from 'node:stream';
import { LineError } from '../errors.js';
import { Checkpoint, passesCheckpoints } from './checkpoint.js';
import { Lane, type EngineOptions, type ErrorPolicy, type Head } from './lane.js';
import { Limiter, type LimiterSettings } from './limiter.js';
import { Runner } from './runner.js';
import * as check from './validate.js';
import { Counters, SAMPLE, statsOf, type StageStats } from './stats.js';
import { bindSignal, destroyReason, failWith } from './stage-options.js';
import type { Step } from './steps.js';

export { Many, type StageContext, type Step, type StepFn, type StepKind } from './steps.js';
export type { EngineOptions, ErrorPolicy, Head, ItemSink } from './lane.js';

type Pending = Promise<void> | undefined;

/** One push in this many, of a timed item or chunk, is timed (and counted this many times). */
const PUSH_SAMPLE = 8;
type Callback = (error?: Error | null) => void;

/**
 * The one executor under map, filter, flatMap, chain, split and parallel: runs a list of steps over
 * each item (runner.ts) and passes on what comes out of the last step.
 *
 * One at a time (`concurrency` 1), an item's outputs are pushed as they come and the write callback
 * is held until the item is done and the readable side has room: the callback means "processed".
 *
 * As a pool (`concurrency` > 1), up to `concurrency` items wait in `#queue` and up to `concurrency`
 * run; a finished item frees its place and the next waiting one starts at once, in the same tick.
 * Outputs are held per lane and passed on in a flush (`setImmediate`) after the callbacks now
 * running, in input order when `ordered` (a lane's outputs wait behind those of every earlier lane).
 * So when many calls finish together (timers due in the same millisecond), every next call starts
 * before any other stream work is done: that keeps the pool close to a bare promise pool.
 *
 * State, for a reader: `#ring` holds the started lanes not yet flushed away, oldest first; its first
 * `#ready` are done (unordered: the done ones, moved to the front in the order they finished);
 * `#running` are still working. Room to start (`#canStart`): fewer than `concurrency` running or held back for
 * order, fewer than 2 x `concurrency` started and not flushed, and the readable side not full.
 * Backpressure: a lane that may not pass more on (full readable side; pool: `#holdMax` held outputs)
 * pauses between outputs; the write callback is held while the queue is full.
 *
 * It extends Transform only for what Transform's constructor sets up (its readable side starts out of
 * "sync" mode, so a push from a write goes straight to a flowing reader): 10–15% more items per second
 * than the same class on Duplex. `_write`, `_final` and `_read` are its own; a Transform's `'prefinish'`
 * push of the end after `_final` is then a no-op.
 */
export class Engine extends Transform {
  readonly #steps: Step[];
  readonly #controller = new AbortController();
  // Settable until the first write: chain() fusing functions into split() brings its own.
  #concurrency: number;
  #pool: boolean;
  #ordered: boolean;
  #onError: ErrorPolicy;
  readonly #head: Head | undefined;
  readonly #holdMax: number;
  readonly #plain: boolean;
  /** Built on the first write (chain() may add steps until then). */
  #runner: Runner<Lane> | undefined;

  /** One at a time: the lane the next item runs on (reused while items finish synchronously). */
  #direct = new Lane();
  #running = 0;
  #ring: Lane[] = [];
  #ready = 0;
  #queue: (Lane | undefined)[] = [];
  #queueStart = 0;
  readonly #waiting = new Set<Lane>();
  /** The last push() returned false: wait for _read before producing more. */
  #full = false;
  #flushing: NodeJS.Immediate | undefined;
  #heldWrite: Callback | undefined;
  #heldFinal: Callback | undefined;
  #deferred: NodeJS.Immediate | undefined;
  #skipped = 0;
  /** Destroyed: nothing more starts, iterations end. */
  #stopped = false;
  readonly #counters: Counters;
  /** Items written until the next one is timed. */
  #untimed = SAMPLE;
  /** An item (or chunk) is being timed: its pushes are timed too, to be taken off. */
  #timing = false;
  /** No steps to run (known once the runner is built): items go straight out. */
  #bare = false;
  /** Pushes of timed items until the next one is timed. */
  #untimedPushes = 1;
  #limiter: Limiter | undefined;
  /** Retries counted when the limiter last looked: a retry in a window is a failure to it. */
  #retriesSeen = 0;

  constructor(steps: Step[], opts: EngineOptions) {
    super({
      objectMode: true,
      readableHighWaterMark: opts.readableHighWaterMark,
      writableHighWaterMark: opts.writableHighWaterMark,
    });
    this.#steps = steps;
    this.#concurrency = opts.concurrency ?? 1;
    this.#pool = this.#concurrency > 1 || opts.resizable === true || opts.adaptive !== undefined;
    if (opts.adaptive !== undefined) this.#adaptTo(opts.adaptive);
    this.#ordered = opts.ordered ?? true;
    this.#onError = opts.onError ?? 'fail';
    this.#holdMax = Math.max(1, opts.readableHighWaterMark);
    this.#head = opts.head?.(this.#item);
    this.#plain = opts.plain === true && opts.head === undefined;
    this.#counters = new Counters(opts.name ?? 'engine', {
      blocked: () => this.#full,
      busy: () => this.#running > 0,
    });
    // Every call gets this one signal, and fetch() lets go of its abort listener only when the request
    // is garbage-collected (nodejs/node#52635): a long run would warn of a leak that is not sluice's.
    setMaxListeners(0, this.#controller.signal);
    bindSignal(this, opts.signal);
  }

  /** Counters and times of this stage: see {@link StageStats}. */
  stats(): StageStats {
    return this.#counters.snapshot();
  }

  get [statsOf](): boolean {
    return true;
  }

  /** The stage's counters, for a subclass that counts more (threads' retries). */
  protected get counters(): Counters {
    return this.#counters;
  }

  /** Passes checkpoints on in order (a split's head does not: an unfinished line's bytes came before one). */
  get [passesCheckpoints](): boolean {
    return this.#head === undefined || this.#head.passesCheckpoints;
  }

  /** Aborted when this stage is destroyed; in-flight calls see it. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Items dropped because a function failed and `onError` is `'skip'`. */
  get skipped(): number {
    return this.#skipped;
  }

  /** How many items may run at once now. */
  get concurrency(): number {
    return this.#concurrency;
  }

  /**
   * Changes how many items may run at once, while it runs: more start at once; with fewer, no new one
   * starts until fewer run. Only a stage made with a concurrency above 1 (or `'auto'`) can change it.
   *
   * @throws {TypeError} On a stage that runs one item at a time by design.
   * @throws {RangeError} When `n` is not an integer >= 1.
   */
  setConcurrency(n: number): void {
    if (!this.#pool) throw new TypeError("setConcurrency(): this stage runs one item at a time; make it with a concurrency above 1 (or 'auto')");
    if (this.#limiter !== undefined)
      throw new TypeError("setConcurrency(): this stage's limit is adaptive (concurrency: 'auto'); it follows the service by itself");
    this.#concurrency = check.integer('setConcurrency()', 'n', n, 1);
    this.#pump();
  }

  /** Its steps, for chain() to run in a neighbouring stage instead: only when it has no options of its own and nothing was written to it. */
  fusible(): readonly Step[] | undefined {
    return this.#plain && this.#runner === undefined && !this.destroyed ? this.#steps : undefined;
  }

  /**
   * Takes functions that follow it in a chain, to run after its own steps with the chain's settings.
   * Only a stage with a head (split) that nothing was written to yet does; returns whether it did.
   */
  absorb(steps: readonly Step[], settings: Pick<EngineOptions, 'concurrency' | 'ordered' | 'onError' | 'adaptive'>): boolean {
    if (this.#head === undefined || this.#runner !== undefined) return false;
    this.#steps.push(...steps);
    if (settings.concurrency !== undefined) {
      this.#concurrency = settings.concurrency;
      this.#pool = settings.concurrency > 1;
    }
    if (settings.adaptive !== undefined) this.#adaptTo(settings.adaptive);
    if (settings.ordered !== undefined) this.#ordered = settings.ordered;
    if (settings.onError !== undefined) this.#onError = settings.onError;
    return true;
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: Callback): void {
    this.#runner ??= this.#makeRunner();
    const head = this.#head;
    if (head === undefined) {
      // One item in SAMPLE is timed (stats.ts), out of line: the countdown is all the others cost.
      if (--this.#untimed === 0) this.#timedItem(chunk);
      else if (this.#pool) this.#offer(this.#lane(chunk, undefined, 0));
      else {
        const lane = this.#direct;
        lane.input = chunk;
        this.#run(lane);
      }
      this.#written(callback);
    } else if (head.defer(chunk)) {
      // A big chunk is split on the next turn of the event loop, once its source has started to read
      // the next one: a file read (in libuv's thread pool) then overlaps the splitting, about 15%
      // faster on two cores. Order is kept: Writable calls _write again only after `callback`.
      this.#deferred = setImmediate(() => {
        this.#deferred = undefined;
        this.#split(head, chunk, callback);
      });
    } else this.#split(head, chunk, callback);
  }

  override _final(callback: Callback): void {
    this.#runner ??= this.#makeRunner();
    if (this.#head !== undefined) {
      try {
        this.#head.end();
      } catch (error) {
        callback(error as Error);
        return;
      }
    }
    this.#heldFinal = callback;
    this.#release();
  }

  override _read(): void {
    this.#full = false;
    if (this.#pool) this.#flush();
    else if (this.#waiting.size > 0) for (const lane of this.#waiting) this.#wake(lane);
    if (this.#heldWrite !== undefined || this.#heldFinal !== undefined) this.#release();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.#stopped = true;
    this.#controller.abort(destroyReason(error));
    clearImmediate(this.#deferred);
    clearImmediate(this.#flushing);
    this.#head?.close();
    this.#runner?.close();
    for (const lane of this.#waiting) this.#wake(lane);
    this.#queue = [];
    this.#ring = [];
    this.#heldWrite = this.#heldFinal = undefined;
    this.#counters.stop();
    callback(error);
  }

  #timedItem(chunk: unknown): void {
    this.#untimed = SAMPLE;
    this.#counters.begin(SAMPLE);
    this.#timing = true;
    if (this.#pool) this.#offer(this.#lane(chunk, undefined, 0));
    else {
      const lane = this.#direct;
      lane.input = chunk;
      this.#run(lane);
    }
    this.#timing = false;
    this.#counters.done();
  }

  #makeRunner(): Runner<Lane> {
    this.#counters.start();
    this.#bare = this.#steps.length === 0;
    return new Runner<Lane>(this.#steps, this.#controller.signal, this.#head?.located === true, {
      emit: this.#emit,
      // Pool mode holds outputs until the flush anyway; `undefined`s and `null`s among them are dropped there.
      emitAll: (values, lane) => {
        if (!this.#pool) return false;
        lane.outs += values.length;
        if (lane.held === undefined) lane.held = values.slice();
        else for (const value of values) lane.held.push(value);
        return true;
      },
      blocked: (lane) => (this.#pool ? lane.held !== undefined && lane.held.length >= this.#holdMax : this.#full),
      wait: (lane) => this.#wait(lane),
      stopped: () => this.#stopped,
    });
  }

  #lane(input: unknown, line: number | undefined, offset: number): Lane {
    const lane = new Lane();
    lane.input = input;
    lane.line = line;
    lane.offset = offset;
    return lane;
  }

  /** Whether upstream may write the next chunk: one at a time, once nothing is running or waiting; as a pool, while the queue has room. */
  #accepting(): boolean {
    const waiting = this.#queue.length - this.#queueStart;
    return this.#pool ? waiting < this.#concurrency : waiting === 0 && this.#ring.length === 0 && !this.#full;
  }

  #written(callback: Callback): void {
    if (this.#accepting()) callback();
    else this.#heldWrite = callback;
  }

  #split(head: Head, chunk: unknown, callback: Callback): void {
    // A chunk holds many items: one in 8 is timed whole, its pushes' time taken off (one push in
    // PUSH_SAMPLE timed, the clock itself costs as much as a line).
    const timed = this.#counters.timed(8);
    this.#timing = timed;
    try {
      head.write(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    } finally {
      if (timed) {
        this.#timing = false;
        this.#counters.done();
      }
    }
    this.#written(callback);
  }

  /** An item a head made: runs at once when it can, else waits in the queue. */
  readonly #item = (value: unknown, offset: number, line: number | undefined): void => {
    if (this.#stopped) return;
    if (this.#pool || this.#queueStart < this.#queue.length || this.#ring.length > 0) {
      this.#offer(this.#lane(value, line, offset));
      return;
    }
    if (this.#bare) {
      // No steps (a split() with nothing fused into it): the item goes straight out.
      this.#counters.itemsIn++;
      if (this.#timing) this.#pushAside(value, this.#direct);
      else {
        this.#counters.itemsOut++;
        if (!this.push(value)) this.#full = true;
      }
      return;
    }
    const lane = this.#direct;
    lane.input = value;
    lane.line = line;
    lane.offset = offset;
    this.#run(lane);
  };

  #offer(lane: Lane): void {
    this.#queue.push(lane);
    this.#pump();
  }

  /** Room for another item to start. */
  #canStart(): boolean {
    if (!this.#pool) return this.#ring.length === 0 && !this.#full;
    const ring = this.#ring.length;
    return ring - this.#ready < this.#concurrency && ring < 2 * this.#concurrency && !this.#full;
  }

  /** Starts waiting items while there is room. */
  #pump(): void {
    const queue = this.#queue;
    while (this.#queueStart < queue.length && !this.#stopped && this.#canStart()) {
      const lane = queue[this.#queueStart]!;
      // The array is dropped only once it empties: till then a started lane's slot would keep its item
      // (threads(): a whole batch) alive for nothing.
      queue[this.#queueStart++] = undefined;
      this.#run(lane);
    }
    if (this.#queueStart === queue.length && this.#queueStart > 0) {
      this.#queue = [];
      this.#queueStart = 0;
    }
  }

  /** Runs the item on `lane`; a lane that goes async, or (pool) holds outputs, is kept in the ring. */
  #run(lane: Lane): void {
    if (lane.input instanceof Checkpoint) {
      this.#mark(lane);
      return;
    }
    this.#counters.itemsIn++;
    // The direct lane is reused from item to item.
    // The direct lane is reused: `dropped` is cleared where it is read, `marker` in #mark, and `failed`
    // matters only to the limiter, whose lanes are fresh.
    lane.outs = 0;
    if (this.#limiter !== undefined) lane.began = performance.now();
    let pending: Pending;
    try {
      pending = this.#runner!.run(lane.input, lane);
    } catch (error) {
      this.#failed(lane, error);
    }
    // The rest is out of line: V8 inlines the runner's generated function and its step rules here only
    // while this method stays small (its inlining budget is per function).
    if (pending !== undefined) {
      this.#began(lane, pending);
      return;
    }
    if (lane.dropped) lane.dropped = false;
    else if (lane.outs === 0) this.#counters.filtered++;
    if (lane.held !== undefined) this.#held(lane);
  }

  /** A checkpoint: one at a time, everything before it is done; in a pool, the ring keeps it behind the rest. */
  #mark(lane: Lane): void {
    lane.marker = true;
    this.#emit(lane.input, lane);
    if (lane.held !== undefined) this.#held(lane);
    else lane.marker = false;
  }

  /** Pool: a lane done at once with outputs held for the flush. */
  #held(lane: Lane): void {
    lane.done = true;
    this.#ring.push(lane);
    this.#settle(lane);
  }

  /** The item's steps went async: the lane waits in the ring until they are done. */
  #began(lane: Lane, pending: Promise<void>): void {
    this.#counters.inFlight = ++this.#running;
    this.#ring.push(lane);
    if (!this.#pool) this.#direct = new Lane();
    pending.then(
      () => this.#finished(lane),
      (error: unknown) => {
        this.#failed(lane, error);
        this.#finished(lane);
      },
    );
  }

  #finished(lane: Lane): void {
    if (this.#stopped) return;
    this.#counters.inFlight = --this.#running;
    if (this.#limiter !== undefined && !lane.marker) this.#adapt(lane);
    if (lane.outs === 0 && !lane.dropped) this.#counters.filtered++;
    lane.done = true;
    if (this.#pool) {
      this.#settle(lane);
      // The next item starts now, before any output is passed on (see the class comment).
      this.#pump();
      return;
    }
    // One at a time: the ring held only this lane, and its outputs are already pushed.
    this.#ring = [];
    this.#release();
  }

  #adaptTo(settings: LimiterSettings): void {
    this.#limiter = new Limiter(settings);
    this.#pool = true;
    this.#concurrency = settings.initial;
  }

  /** Adaptive: one finished call's latency and outcome to the limiter, which may move the limit. */
  #adapt(lane: Lane): void {
    const retries = this.#counters.retries;
    this.#concurrency = this.#limiter!.sample(performance.now() - lane.began, lane.failed || retries !== this.#retriesSeen);
    this.#retriesSeen = retries;
  }

  /** Pool: counts a done lane as ready (ordered: once every lane before it is) and schedules the flush. */
  #settle(lane: Lane): void {
    const ring = this.#ring;
    if (this.#ordered) {
      while (this.#ready < ring.length && ring[this.#ready]!.done) this.#ready++;
    } else if (!lane.marker) {
      // Unordered: the done lanes lead the ring in the order they finished, so a flush passes results
      // on in that order. A checkpoint stays where it came: it may pass only once every lane before it has.
      ring.splice(ring.indexOf(lane), 1);
      ring.splice(this.#ready++, 0, lane);
    }
    if (lane.held !== undefined || this.#ready > 0) this.#flushing ??= setImmediate(this.#flushSoon);
  }

  readonly #flushSoon = (): void => {
    this.#flushing = undefined;
    this.#flush();
    this.#release();
  };

  /** Pool: passes held outputs on, until the readable side is full; drops lanes that are done and empty. */
  #flush(): void {
    const ring = this.#ring;
    const ready = this.#ready;
    let kept = 0;
    for (let i = 0; i < ring.length; i++) {
      const lane = ring[i]!;
      // Ordered: only the done lanes at the head, and the first running one after them. Unordered:
      // any, but a checkpoint only once nothing before it is left.
      const may = this.#ordered ? i <= ready : !lane.marker || kept === 0;
      const held = lane.held;
      if (may && held !== undefined && !this.#full) {
        let k = 0;
        while (k < held.length && !this.#full) {
          const value = held[k++];
          if (value === undefined || value === null) continue;
          if (!(value instanceof Checkpoint)) this.#counters.itemsOut++;
          if (!this.push(value)) this.#full = true;
        }
        lane.held = k === held.length ? undefined : held.slice(k);
        if (!lane.done) this.#wake(lane);
      }
      if (may && lane.done && lane.held === undefined) {
        if (this.#ordered || !lane.marker) this.#ready--;
        continue;
      }
      ring[kept++] = lane;
      if (this.#ordered && !lane.done) {
        // Nothing after a running lane may pass yet: keep the rest as it is.
        for (let j = i + 1; j < ring.length; j++) ring[kept++] = ring[j]!;
        break;
      }
    }
    ring.length = kept;
  }

  /** Starts waiting items; calls back the held write, or ends, once that is due. */
  #release(): void {
    if (this.#stopped) return;
    this.#pump();
    const write = this.#heldWrite;
    if (write !== undefined && this.#accepting()) {
      this.#heldWrite = undefined;
      write();
    }
    const final = this.#heldFinal;
    if (final !== undefined && this.#heldWrite === undefined && this.#queueStart === this.#queue.length && this.#ring.length === 0) {
      this.#heldFinal = undefined;
      this.push(null);
      final();
    }
  }

  /** A function failed for the item on `lane`: `onError` decides. */
  #failed(lane: Lane, thrown: unknown): void {
    if (this.#stopped) return;
    const head = this.#head;
    const error =
      head?.located !== true
        ? thrown
        : new LineError({ line: lane.line!, offset: lane.offset, ...(head.name === undefined ? {} : { file: head.name }) }, thrown);
    const onError = this.#onError;
    this.#counters.errors++;
    lane.failed = true;
    if (onError === 'fail') {
      failWith(this, error);
    } else if (onError === 'skip') {
      this.#skipped++;
      this.#counters.dropped++;
      lane.dropped = true;
    } else {
      let replacement: unknown;
      try {
        replacement = onError(error, lane.input);
      } catch (again) {
        failWith(this, again);
        return;
      }
      if (replacement !== undefined && replacement !== null) this.#emit(replacement, lane);
    }
  }

  // Inlined into the runner's generated function with everything it calls: kept small (V8's inlining
  // budget is counted in bytecode), the rarer cases out of line.
  readonly #emit = (value: unknown, lane: Lane): undefined => {
    lane.outs++;
    if (this.#pool) (lane.held ??= []).push(value);
    else if (lane.marker || this.#timing) this.#pushAside(value, lane);
    else {
      this.#counters.itemsOut++;
      if (!this.push(value)) this.#full = true;
    }
    return undefined;
  };

  /** One at a time: a checkpoint, or an output of the item being timed (its push's time is not the stage's). */
  #pushAside(value: unknown, lane: Lane): void {
    if (!lane.marker) this.#counters.itemsOut++;
    const from = this.#timing && --this.#untimedPushes === 0 ? performance.now() : undefined;
    if (!this.push(value)) this.#full = true;
    if (from !== undefined) {
      this.#untimedPushes = PUSH_SAMPLE;
      this.#counters.pushed(from, PUSH_SAMPLE);
    }
  }

  #wait(lane: Lane): Promise<void> {
    // Pool: what the lane holds goes out in the next flush.
    if (this.#pool) this.#flushing ??= setImmediate(this.#flushSoon);
    return new Promise((resolve) => {
      lane.wake = resolve;
      this.#waiting.add(lane);
    });
  }

  #wake(lane: Lane): void {
    const wake = lane.wake;
    if (wake === undefined) return;
    lane.wake = undefined;
    this.#waiting.delete(lane);
    wake();
  }
}
