// The messages between a thread pool (thread-pool.ts) and its workers (worker.ts).
import type { ThrownInWorker } from '../errors.js';

/** A batch to run: job `job`'s functions (`module`'s exports `names`, sent with the job's first batch to a worker) over `items`. */
export interface Batch {
  type: 'run';
  id: number;
  job: number;
  /** A file: URL; only in the job's first batch to a worker. */
  module?: string;
  names?: readonly string[];
  items: unknown[];
  /** Items run at once inside the worker (async functions). */
  concurrency: number;
  /** Stop starting items after the first failure (the stage fails on it anyway). */
  failFast: boolean;
}

/** Abort the batch `id` (running: its `ctx.signal` aborts; waiting: it is dropped). */
export interface Abort {
  type: 'abort';
  id: number;
  reason: unknown;
}

export type ToWorker = Batch | Abort;

/** An item whose function failed: its index in the batch, where its outputs (if any, before it failed) begin and end, and what it threw. */
export interface Failure {
  index: number;
  start: number;
  at: number;
  thrown: ThrownInWorker;
}

/** What was thrown, in a form that crosses threads with its name, code and stack. */
export function thrownInWorker(value: unknown): ThrownInWorker {
  let clone: unknown;
  try {
    clone = structuredClone(value);
  } catch {
    clone = String(value);
  }
  if (!(value instanceof Error)) return { clone };
  return { error: { name: value.name, message: value.message, stack: value.stack, code: (value as { code?: unknown }).code }, clone };
}

export interface BatchDone {
  type: 'done';
  id: number;
  outputs: unknown[];
  errors: Failure[];
  /** The batch was aborted before it finished: its outputs are incomplete. */
  aborted: boolean;
}

/** The module could not be loaded, or an export is not a function. */
export interface Fatal {
  type: 'fatal';
  id: number;
  thrown: ThrownInWorker;
}

export type ToMain = BatchDone | Fatal;
