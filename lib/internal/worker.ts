// The worker_threads entry of threads(): runs batches of items through the functions a module exports,
// with sluice's own runner (the step rules of steps.ts), and sends back what came out. One worker
// serves every module and export list it is asked for (a pool may be shared by several stages).
import { parentPort } from 'node:worker_threads';
import { Runner } from './runner.js';
import { thrownInWorker, type Batch, type BatchDone, type Failure, type ToMain, type ToWorker } from './thread-protocol.js';

if (parentPort === null) throw new Error('sluice: lib/internal/worker.js runs in a worker thread only');
const port = parentPort;

interface Lane {
  line: number | undefined;
  out: unknown[];
}

/** A module's functions as one runner; each batch gets its own signal. */
class Job {
  readonly #runner: Runner<Lane>;
  #current = new AbortController();

  constructor(fns: ((item: unknown, ctx: unknown) => unknown)[]) {
    this.#runner = new Runner<Lane>(
      fns.map((fn) => ({ kind: 'map', fn })),
      this.#current.signal,
      false,
      {
        emit: (value, lane) => {
          lane.out.push(value);
          return undefined;
        },
        // A batch's outputs are gathered whole, then sent: nothing to wait for.
        blocked: () => false,
        wait: () => Promise.resolve(),
        stopped: () => this.#current.signal.aborted,
      },
    );
  }

  /** Runs the items, `concurrency` at once; outputs in item order, failures with where they fall among them. */
  async run(batch: Batch, controller: AbortController): Promise<BatchDone> {
    const { items, concurrency, failFast } = batch;
    this.#current = controller;
    this.#runner.signal = controller.signal;
    const lanes: Lane[] = items.map(() => ({ line: undefined, out: [] }));
    const failures: (unknown[] | undefined)[] = [];
    const signal = controller.signal;
    let next = 0;
    let failed = false;
    const runOne = async (pending?: Promise<void>, at = 0): Promise<void> => {
      if (pending !== undefined) {
        await pending.catch((error: unknown) => {
          failed = true;
          failures[at] = [error];
        });
      }
      while (next < items.length && !(failFast && failed) && !signal.aborted) {
        const i = next++;
        try {
          const result = this.#runner.run(items[i], lanes[i]!);
          if (result !== undefined) await result;
        } catch (error) {
          failed = true;
          failures[i] = [error];
        }
      }
    };
    // One at a time and synchronous, the common case, runs in a plain loop until something goes async.
    let async: Promise<void> | undefined;
    let asyncAt = 0;
    if (concurrency === 1) {
      while (next < items.length && !(failFast && failed)) {
        asyncAt = next++;
        try {
          async = this.#runner.run(items[asyncAt], lanes[asyncAt]!);
        } catch (error) {
          failed = true;
          failures[asyncAt] = [error];
        }
        if (async !== undefined) break;
      }
    }
    if (async !== undefined || concurrency > 1) {
      await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, (_, k) => (k === 0 ? runOne(async, asyncAt) : runOne())));
    }
    if (signal.aborted) this.#runner.close();
    const outputs: unknown[] = [];
    const errors: Failure[] = [];
    lanes.forEach((lane, i) => {
      const start = outputs.length;
      for (const value of lane.out) outputs.push(value);
      const failure = failures[i];
      if (failure !== undefined) errors.push({ index: i, start, at: outputs.length, thrown: thrownInWorker(failure[0]) });
    });
    return { type: 'done', id: batch.id, outputs, errors, aborted: signal.aborted };
  }
}

const jobs = new Map<number, Promise<Job>>();

async function job(batch: Batch): Promise<Job> {
  let made = jobs.get(batch.job);
  if (made === undefined) {
    const { module = '', names = [] } = batch;
    made = import(module).then((mod: Record<string, unknown>) => {
      const fns = names.map((name) => {
        const fn = mod[name];
        if (typeof fn !== 'function')
          throw new TypeError(`threads(): ${module} has no function export named "${name}" (it exports ${Object.keys(mod).join(', ') || 'nothing'})`);
        return fn as (item: unknown, ctx: unknown) => unknown;
      });
      return new Job(fns);
    });
    jobs.set(batch.job, made);
  }
  return made;
}

function send(message: ToMain): void {
  try {
    port.postMessage(message);
  } catch (error) {
    // An output that cannot be cloned (a function, say): the batch fails with that error instead.
    if (message.type !== 'done') throw error;
    port.postMessage({
      type: 'done',
      id: message.id,
      outputs: [],
      errors: [{ index: 0, start: 0, at: 0, thrown: thrownInWorker(error) }],
      aborted: false,
    } satisfies BatchDone);
  }
}

// Batches run one after another (a pool keeps a few queued here so the thread never waits for the
// next); an abort reaches the running one through its signal, or drops a queued one.
const controllers = new Map<number, AbortController>();
let queue: Promise<void> = Promise.resolve();

port.on('message', (message: ToWorker) => {
  if (message.type === 'abort') {
    controllers.get(message.id)?.abort(message.reason);
    return;
  }
  const controller = new AbortController();
  controllers.set(message.id, controller);
  queue = queue.then(async () => {
    try {
      const j = await job(message);
      send(controller.signal.aborted ? { type: 'done', id: message.id, outputs: [], errors: [], aborted: true } : await j.run(message, controller));
    } catch (error) {
      send({ type: 'fatal', id: message.id, thrown: thrownInWorker(error) });
    } finally {
      controllers.delete(message.id);
    }
  });
});
