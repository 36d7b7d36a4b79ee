// What an Engine (engine.ts) is made of and made with: its options, the head that may cut written
// chunks into items (split, threads), and the lane each item runs on.
import type { LimiterSettings } from './limiter.js';
import type { ResolvedStageOptions } from './stage-options.js';

/** What to do with an item whose function failed: see `parallel()`'s `onError`. */
export type ErrorPolicy = 'fail' | 'skip' | ((error: unknown, item: unknown) => unknown);

/**
 * Where the items of an engine come from when it is not written items one by one: split() writes
 * chunks of bytes and its head cuts them into lines; threads() writes items and its head gathers
 * them into batches. The head gives each item it makes to the engine: `item(value, offset, line)`.
 */
export interface Head {
  /** Items are input lines: errors of the steps are LineErrors naming them, and `ctx.line` is set. */
  readonly located: boolean;
  /** Input name for a LineError (split's `name`). */
  readonly name: string | undefined;
  /** Whether checkpoints written to it can be passed on in order (see checkpoint.ts). */
  readonly passesCheckpoints: boolean;
  /** Whether `chunk` is big enough to be worth handling on the next turn of the event loop. */
  defer(chunk: unknown): boolean;
  /** Takes a written chunk, giving the items it makes to the engine; throws (a SluiceError) on input it cannot take. */
  write(chunk: unknown): void;
  /** The input ended: the last item, if unfinished. */
  end(): void;
  /** The engine was destroyed: clear timers. */
  close(): void;
}

export type ItemSink = (value: unknown, offset: number, line: number | undefined) => void;

export interface EngineOptions extends ResolvedStageOptions {
  /** Items run at once. @default 1 */
  concurrency?: number;
  /** With concurrency: outputs in input order. @default true */
  ordered?: boolean;
  onError?: ErrorPolicy;
  /** Makes the head that turns written chunks into items, given the function that takes each. */
  head?: (item: ItemSink) => Head;
  /** Made with no options of its own (map/filter/flatMap): chain() may fuse its steps into a neighbour. */
  plain?: boolean;
  /** Its name in stats(). @default 'engine' */
  name?: string;
  /** Run as a pool even at concurrency 1, so that `setConcurrency()` can raise it. */
  resizable?: boolean;
  /** `concurrency: 'auto'`: a limit that follows latency and failures (limiter.ts). */
  adaptive?: LimiterSettings | undefined;
}

/** One item on its way through the steps: what it was, where it came from, and its outputs not yet passed on. */
export class Lane {
  input: unknown = undefined;
  line: number | undefined = undefined;
  offset = 0;
  /** Pool mode: outputs waiting for the flush (and, ordered, for the items before this one). */
  held: unknown[] | undefined = undefined;
  done = false;
  /** It carries a checkpoint: no step runs; it passes once every item before it has. */
  marker = false;
  /** Outputs it gave (none: its item was filtered), and whether it was dropped by `onError: 'skip'`. */
  outs = 0;
  dropped = false;
  /** Resumes an iteration paused while the lane may not pass more on. */
  wake: (() => void) | undefined = undefined;
  /** Adaptive: when its item started (ms), and whether its function failed. */
  began = 0;
  failed = false;
}
