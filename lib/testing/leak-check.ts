/**
 * The goleak of sluice: snapshot the process before a test, verify afterwards that nothing was left
 * behind. Exported as `sluice/testing`.
 *
 * @module
 */
import { getEventListeners } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { SluiceError } from '../errors.js';
import * as check from '../internal/validate.js';

/** A stream `leakCheck()` can watch. */
export type TrackedStream = Readable | Writable;

/** Options for {@link leakCheck}. */
export interface LeakCheckOptions {
  /**
   * AbortSignals whose `'abort'` listeners are counted now and again in `verify()`; more listeners
   * then than now is a leak.
   * @default []
   */
  signals?: readonly AbortSignal[];
  /**
   * Streams that must be destroyed (and closed) by the time `verify()` runs. More can be added with
   * `check.track(stream)`.
   * @default []
   */
  streams?: readonly TrackedStream[];
  /**
   * How long `verify()` waits, in milliseconds, for handles and streams that are still closing before
   * it calls them leaked. A clean run never waits this long: `verify()` resolves as soon as nothing
   * is left.
   * @default 100
   */
  timeout?: number;
  /**
   * Resource types (as `process.getActiveResourcesInfo()` names them, e.g. `'TTYWrap'`) never
   * reported.
   * @default []
   */
  ignore?: readonly string[];
}

/** What {@link leakCheck} returns. */
export interface LeakCheck {
  /**
   * Watches one more stream (it must be destroyed by `verify()`) or AbortSignal (it must have no more
   * `'abort'` listeners than it has now). Returns its argument, so it can wrap a constructor call.
   * Reports name it by `name` when given, else by position: streams `#1`, `#2`… in the order
   * watched (`options.streams` first), signals `signals[i]` continuing the indices of
   * `options.signals`.
   */
  track<S extends TrackedStream | AbortSignal>(target: S, name?: string): S;
  /**
   * Resolves when nothing was left since the snapshot; otherwise rejects with a {@link LeakError}
   * naming each leak on its own line.
   */
  verify(): Promise<void>;
}

/** `verify()` found something left behind. `leaks` holds one line per leak. */
export class LeakError extends SluiceError {
  /** One entry per leak, e.g. `1 Timeout left active`. */
  readonly leaks: readonly string[];

  constructor(leaks: readonly string[]) {
    super(
      'ERR_SLUICE_LEAK',
      `leakCheck(): ${leaks.length} leak${leaks.length === 1 ? '' : 's'} since the snapshot:\n  ${leaks.join('\n  ')}`,
    );
    this.leaks = leaks;
  }
}

const WHERE = 'leakCheck()';
// Rounds of the event loop to try before falling back to polling: closing handles and streams
// normally finish within one or two.
const IMMEDIATE_ROUNDS = 5;
const POLL_INTERVAL = 10;

interface WatchedSignal { signal: AbortSignal; label: string; listeners: number }
interface WatchedStream { stream: TrackedStream; label: string }

/**
 * Takes a snapshot of the process — active handles, requests and timers (as
 * `process.getActiveResourcesInfo()` lists them), the `'abort'` listeners on the given signals —
 * and returns a check whose `verify()` rejects if anything new is still there, or if a watched stream
 * was not destroyed.
 *
 * Only resources that keep the process alive count: an `unref()`ed timer is not reported. Before
 * deciding, `verify()` lets the event loop turn a few times and then polls for up to
 * `options.timeout` ms, because closing handles and destroyed streams finish a tick later. A timer
 * that fires within that time is therefore not reported either. Resources of other code running
 * concurrently in the same process (another test, a reporter) are counted too: snapshot and verify
 * around code that runs alone.
 *
 * @param options What else to watch, and how long to wait. See {@link LeakCheckOptions}.
 * @returns A {@link LeakCheck}: `track()` more streams or signals, then `await verify()`.
 * @throws {TypeError} When an option has the wrong type.
 * @throws {RangeError} When `options.timeout` is negative or not finite.
 *
 * @example A clean run resolves
 * ```ts
 * import { leakCheck } from 'sluice/testing';
 * import { PassThrough } from 'node:stream';
 * const check = leakCheck();
 * const timer = setTimeout(() => {}, 1000);
 * clearTimeout(timer);
 * check.track(new PassThrough()).destroy();
 * await check.verify();
 * ```
 *
 * @example A leak rejects, naming what was left
 * ```ts
 * import { leakCheck, LeakError } from 'sluice/testing';
 * const controller = new AbortController();
 * const check = leakCheck({ signals: [controller.signal], timeout: 0 });
 * const interval = setInterval(() => {}, 1000);
 * controller.signal.addEventListener('abort', () => {});
 * await assert.rejects(check.verify(), (err) => {
 *   assert.ok(err instanceof LeakError);
 *   assert.equal(err.code, 'ERR_SLUICE_LEAK');
 *   assert.match(err.message, /1 Timeout left active/);
 *   assert.match(err.message, /1 'abort' listener left on signals\[0\]/);
 *   return true;
 * });
 * clearInterval(interval);
 * ```
 */
export function leakCheck(options?: LeakCheckOptions): LeakCheck {
  const opts = check.options(WHERE, options);
  const timeout = opts.timeout === undefined ? 100 : check.number(WHERE, 'options.timeout', opts.timeout, 0);
  const ignore = new Set(list<string>('options.ignore', opts.ignore, (v, name) => {
    if (typeof v !== 'string') throw new TypeError(`${WHERE}: ${name} must be a string, got ${typeof v}`);
  }));
  const signals: WatchedSignal[] = list<AbortSignal>('options.signals', opts.signals, (v, name) => {
    check.signal(WHERE, name, v);
  }).map((signal, i) => ({ signal, label: `signals[${i}]`, listeners: abortListeners(signal) }));
  const streams: WatchedStream[] = [];
  const trackStream = (stream: TrackedStream, name: string | undefined): void => {
    const n = streams.length + 1;
    const label = name === undefined ? `stream #${n}` : `stream #${n} "${name}"`;
    streams.push({ stream, label: `${label} (${stream.constructor.name})` });
  };
  for (const s of list<TrackedStream>('options.streams', opts.streams, (v, name) => {
    if (!isStream(v)) throw new TypeError(`${WHERE}: ${name} must be a Node stream, got ${typeof v}`);
  })) trackStream(s, undefined);
  const before = countResources();

  const leaks = (): string[] => {
    const found: string[] = [];
    for (const [type, n] of countResources()) {
      const extra = n - (before.get(type) ?? 0);
      if (extra > 0 && !ignore.has(type)) found.push(`${extra} ${type} left active`);
    }
    for (const { signal, label, listeners } of signals) {
      const extra = abortListeners(signal) - listeners;
      if (extra > 0) found.push(`${extra} 'abort' listener${extra === 1 ? '' : 's'} left on ${label}`);
    }
    for (const { stream, label } of streams) {
      if (!stream.destroyed) found.push(`${label} not destroyed`);
      else if (!stream.closed) found.push(`${label} destroyed but not closed`);
    }
    return found;
  };

  return {
    track<S extends TrackedStream | AbortSignal>(target: S, name?: string): S {
      if (target instanceof AbortSignal) {
        const n = signals.length;
        const label = name === undefined ? `signals[${n}]` : `signal "${name}"`;
        signals.push({ signal: target, label, listeners: abortListeners(target) });
      } else if (isStream(target)) {
        trackStream(target, name);
      } else {
        throw new TypeError(`${WHERE}: track() takes a Node stream or an AbortSignal, got ${typeof target}`);
      }
      return target;
    },
    async verify(): Promise<void> {
      const deadline = performance.now() + timeout;
      let found = leaks();
      for (let round = 0; found.length > 0 && round < IMMEDIATE_ROUNDS; round++) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        found = leaks();
      }
      while (found.length > 0 && performance.now() < deadline) {
        await new Promise<void>((resolve) => setTimeout(resolve, Math.min(POLL_INTERVAL, deadline - performance.now())));
        found = leaks();
      }
      if (found.length > 0) throw new LeakError(found);
    },
  };
}

function list<T>(name: string, value: unknown, each: (v: unknown, name: string) => void): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(`${WHERE}: ${name} must be an array, got ${typeof value}`);
  value.forEach((v, i) => each(v, `${name}[${i}]`));
  return [...value] as T[];
}

function isStream(value: unknown): value is TrackedStream {
  return typeof value === 'object' && value !== null && typeof (value as { destroy?: unknown }).destroy === 'function'
    && 'destroyed' in value;
}

function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

function countResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}
