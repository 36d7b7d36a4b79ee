import { availableParallelism } from 'node:os';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { TimeoutError, WorkerError, WorkerExitError } from './errors.js';
import { refusedExecArgv } from './internal/node-compat.js';
import type { Batch, BatchDone, ToMain } from './internal/thread-protocol.js';
import * as check from './internal/validate.js';

/**
 * What a worker can be given instead of a copy (an ArrayBuffer, a MessagePort…): the element type of
 * `worker.postMessage()`'s transfer list, which @types/node calls `TransferListItem` up to 24 and
 * `Transferable` after.
 */
export type TransferListItem = NonNullable<Parameters<Worker['postMessage']>[1]>[number];

/** Options for {@link threadPool}. */
export interface ThreadPoolOptions {
  /** Worker threads at most; they are started as work comes. @default os.availableParallelism() */
  threads?: number;
  /** Given to every worker as `workerData` (from `node:worker_threads`). @default undefined */
  workerData?: unknown;
  /** Memory limits of each worker (see `Worker`'s `resourceLimits`). @default undefined (Node's) */
  resourceLimits?: ResourceLimits;
  /** Milliseconds a worker gets to stop after its batch was aborted, before it is terminated. @default 1000 */
  terminateAfter?: number;
}

/** A batch to run, as threads() gives it. */
export interface PoolTask {
  module: string;
  names: readonly string[];
  items: unknown[];
  concurrency: number;
  failFast: boolean;
  transfer: readonly TransferListItem[];
}

interface Running {
  resolve(done: BatchDone): void;
  reject(error: unknown): void;
}

// The worker's own file, beside this one: .js when built, .ts when run from source under a loader.
const WORKER = new URL(import.meta.url.endsWith('.ts') ? './internal/worker.ts' : './internal/worker.js', import.meta.url);

/**
 * What a worker runs. Under tsx, Node 20 applies the `--import tsx` a worker inherits to the main
 * thread only (privatenumber/tsx#354, nodejs/node#47747), so the worker could load no .ts file: not
 * sluice's own worker run from source, nor a user's .ts module. Such a worker registers tsx itself,
 * then loads its file.
 */
function workerEntry(): URL | string {
  if (!process.execArgv.some((arg) => /\btsx\b/.test(arg))) return WORKER;
  let api: string;
  try {
    api = import.meta.resolve('tsx/esm/api');
  } catch {
    return WORKER;
  }
  return `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER.href)}); })`;
}

/**
 * The process's Node options for a worker, or `undefined` to inherit them: what only a main script can
 * take (`-e CODE`, `--input-type`) would stop the worker, so it is taken out; otherwise they are
 * inherited, because V8 options given explicitly (`--max-old-space-size`, `--expose-gc`) make
 * `new Worker` throw `ERR_WORKER_INVALID_EXEC_ARGV`, while inherited they simply apply.
 */
function workerExecArgv(): string[] | undefined {
  const out: string[] = [];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith('--input-type=')) continue;
    if (['-e', '--eval', '-p', '--print', '--input-type'].includes(arg)) {
      i++;
      continue;
    }
    out.push(arg);
  }
  return out.length === args.length ? undefined : out;
}

/** Node's options for workers, worked out once (see workerExecArgv). */
let execArgv = workerExecArgv();

/** One worker thread, the batches it has, and those it was asked to stop (with the timer that ends it if it does not). */
class Thread {
  readonly worker: Worker;
  readonly running = new Map<number, Running>();
  readonly stopping = new Map<number, NodeJS.Timeout>();
  /** Jobs this worker has been told the module and exports of. */
  readonly jobs = new Set<number>();

  constructor(worker: Worker) {
    this.worker = worker;
  }

  get idle(): boolean {
    return this.running.size === 0 && this.stopping.size === 0;
  }
}

/**
 * The worker threads behind {@link threads}, which several stages may share. Threads are started as
 * batches come (up to `threads`), each batch going to the least busy one; an idle pool does not keep
 * the process alive. A worker that dies (an uncaught error, `process.exit`, out of memory) fails the
 * batches it had with a {@link WorkerExitError} and is replaced by the next batch. `close()` ends them.
 */
export class ThreadPool implements AsyncDisposable {
  readonly #size: number;
  readonly #workerData: unknown;
  readonly #resourceLimits: ResourceLimits | undefined;
  readonly #terminateAfter: number;
  readonly #threads: Thread[] = [];
  /** One 'abort' listener per signal, however many batches it covers (a stage has up to threads × inFlight out). */
  readonly #watched = new Map<AbortSignal, { stops: Set<(reason: unknown) => void>; onAbort: () => void }>();
  /** A number per module and export list, sent to a worker with its first batch of it. */
  readonly #jobs = new Map<string, number>();
  #nextId = 0;
  #closed = false;
  /** A thread died while it had no batch: the next batch fails with it, so the crash is not lost. */
  #crash: WorkerExitError | undefined;

  constructor(options?: ThreadPoolOptions) {
    const where = 'threadPool()';
    const opts = check.options(where, options, 'options', ['threads', 'workerData', 'resourceLimits', 'terminateAfter']);
    this.#size = opts.threads === undefined ? Math.max(1, availableParallelism()) : check.integer(where, 'options.threads', opts.threads, 1);
    this.#workerData = opts.workerData;
    this.#resourceLimits =
      opts.resourceLimits === undefined ? undefined : (check.options(where, opts.resourceLimits, 'options.resourceLimits') as ResourceLimits);
    this.#terminateAfter = opts.terminateAfter === undefined ? 1000 : check.delay(where, 'options.terminateAfter', opts.terminateAfter, true);
  }

  /** Worker threads at most. */
  get threads(): number {
    return this.#size;
  }

  /** Worker threads running now. */
  get started(): number {
    return this.#threads.length;
  }

  /**
   * Runs a batch on the least busy thread. Rejects with `signal.reason` as soon as `signal` aborts and
   * with a {@link TimeoutError} after `timeout` ms; the worker is then asked to stop the batch (its
   * functions' `ctx.signal` aborts) and terminated if it has not after `terminateAfter` ms.
   *
   * @internal threads() is its user.
   */
  run(task: PoolTask, signal: AbortSignal, timeout: number | undefined): Promise<BatchDone> {
    if (this.#closed) return Promise.reject(new WorkerExitError('threads(): the thread pool is closed'));
    if (signal.aborted) return Promise.reject(signal.reason);
    const crash = this.#crash;
    this.#crash = undefined;
    if (crash !== undefined) return Promise.reject(crash);
    const thread = this.#pick();
    const id = this.#nextId++;
    return new Promise<BatchDone>((resolve, reject) => {
      const stop = (reason: unknown): void => {
        if (!thread.running.delete(id)) return;
        cleanup();
        reject(reason);
        thread.worker.postMessage({ type: 'abort', id, reason: cloneable(reason) });
        // Still busy with it after a while (a loop that never yields): the thread goes.
        thread.stopping.set(
          id,
          setTimeout(() => void this.#terminate(thread, reason), this.#terminateAfter),
        );
      };
      const timer = timeout === undefined ? undefined : setTimeout(() => stop(new TimeoutError('threads(): a batch', timeout)), timeout);
      const unwatch = this.#watch(signal, stop);
      const cleanup = (): void => {
        clearTimeout(timer);
        unwatch();
      };
      thread.running.set(id, {
        resolve: (done) => {
          cleanup();
          resolve(done);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      });
      thread.worker.ref();
      const key = `${task.module}\n${task.names.join('\n')}`;
      let job = this.#jobs.get(key);
      if (job === undefined) this.#jobs.set(key, (job = this.#jobs.size));
      const known = thread.jobs.has(job);
      thread.jobs.add(job);
      const message: Batch = {
        type: 'run',
        id,
        job,
        items: task.items,
        concurrency: task.concurrency,
        failFast: task.failFast,
        ...(known ? {} : { module: task.module, names: task.names }),
      };
      thread.worker.postMessage(message, task.transfer);
    });
  }

  /** Calls `stop` when `signal` aborts; returns the function that stops watching. */
  #watch(signal: AbortSignal, stop: (reason: unknown) => void): () => void {
    let watched = this.#watched.get(signal);
    if (watched === undefined) {
      const stops = new Set<(reason: unknown) => void>();
      const onAbort = (): void => {
        this.#watched.delete(signal);
        for (const each of [...stops]) each(signal.reason);
      };
      watched = { stops, onAbort };
      this.#watched.set(signal, watched);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    const { stops, onAbort } = watched;
    stops.add(stop);
    return () => {
      // The last batch of this signal is done: no listener stays behind.
      if (stops.delete(stop) && stops.size === 0 && this.#watched.get(signal) === watched) {
        this.#watched.delete(signal);
        signal.removeEventListener('abort', onAbort);
      }
    };
  }

  /** Ends every thread; their running batches fail. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#threads].map((thread) => this.#terminate(thread, new WorkerExitError('threads(): the thread pool was closed'))));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The thread with the fewest batches; a new one while there are fewer than `threads` and all are busy. */
  #pick(): Thread {
    let best: Thread | undefined;
    for (const thread of this.#threads) if (best === undefined || thread.running.size < best.running.size) best = thread;
    if (best !== undefined && (best.idle || this.#threads.length >= this.#size)) return best;
    return this.#start();
  }

  #start(): Thread {
    const entry = workerEntry();
    const options = {
      eval: typeof entry === 'string',
      workerData: this.#workerData,
      ...(this.#resourceLimits === undefined ? {} : { resourceLimits: this.#resourceLimits }),
    };
    let worker: Worker;
    try {
      worker = new Worker(entry, { ...options, ...(execArgv === undefined ? {} : { execArgv }) });
    } catch (error) {
      // Options a worker refuses when given explicitly (V8's, process-wide ones) are named in the error:
      // they are left out from now on (they still apply to the process).
      const refused = refusedExecArgv(error);
      if (execArgv === undefined || refused === undefined) throw error;
      execArgv = execArgv.filter((arg) => !refused.has(arg));
      worker = new Worker(entry, { ...options, execArgv });
    }
    const thread = new Thread(worker);
    this.#threads.push(thread);
    worker.on('message', (message: ToMain) => {
      clearTimeout(thread.stopping.get(message.id));
      thread.stopping.delete(message.id);
      const running = thread.running.get(message.id);
      thread.running.delete(message.id);
      this.#idle(thread);
      if (running === undefined) return;
      if (message.type === 'done') running.resolve(message);
      else running.reject(new WorkerError(message.thrown, undefined));
    });
    // An uncaught error in the worker (a timer's, say) ends it: 'error', then 'exit'.
    let cause: unknown;
    worker.on('error', (error) => {
      cause = error;
    });
    worker.once('exit', (code) => {
      // Terminated by the pool itself: its batches were settled then.
      if (!this.#threads.includes(thread)) return;
      this.#remove(thread);
      for (const timer of thread.stopping.values()) clearTimeout(timer);
      thread.stopping.clear();
      const error = new WorkerExitError(
        `threads(): a worker thread ${cause === undefined ? `exited with code ${code}` : `failed: ${cause instanceof Error ? cause.message : String(cause)}`}`,
        cause === undefined ? {} : { cause },
      );
      if (thread.running.size === 0) this.#crash = error;
      for (const running of thread.running.values()) running.reject(error);
      thread.running.clear();
    });
    return thread;
  }

  /** An idle thread does not keep the process alive. */
  #idle(thread: Thread): void {
    if (thread.idle) thread.worker.unref();
  }

  #remove(thread: Thread): void {
    const at = this.#threads.indexOf(thread);
    if (at !== -1) this.#threads.splice(at, 1);
  }

  async #terminate(thread: Thread, reason: unknown): Promise<void> {
    this.#remove(thread);
    for (const running of thread.running.values()) running.reject(reason);
    thread.running.clear();
    for (const timer of thread.stopping.values()) clearTimeout(timer);
    thread.stopping.clear();
    // A worker being ended holds no reference on the event loop (nor does an idle, unref'd one): the
    // loop could empty, and the process exit or 'beforeExit' fire, before it has. This timer holds it.
    const holding = setInterval(() => {}, 60_000);
    try {
      await thread.worker.terminate();
    } finally {
      clearInterval(holding);
    }
  }
}

/** An abort reason as a worker can receive it: an Error or a plain value, else its text. */
function cloneable(reason: unknown): unknown {
  try {
    structuredClone(reason);
    return reason;
  } catch {
    return String(reason);
  }
}

/**
 * A pool of worker threads that several {@link threads} stages can share (pass it as `options.pool`).
 * Call `close()` (or use `await using`) when done; until then idle threads wait, without keeping the
 * process alive.
 *
 * @param options Threads and what every worker gets; see {@link ThreadPoolOptions}.
 * @returns A {@link ThreadPool}.
 * @throws {TypeError | RangeError} When an option is invalid.
 */
export function threadPool(options?: ThreadPoolOptions): ThreadPool {
  return new ThreadPool(options);
}
