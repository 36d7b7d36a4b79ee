/**
 * The goleak of sluice: snapshot the process before a test, verify afterwards that nothing was left
 * behind. Exported as `sluice/testing`.
 *
 * @module
 */
import { createHook } from 'node:async_hooks';
import { getEventListeners } from 'node:events';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { SluiceError } from '../errors.js';
import { timerSpent } from '../internal/node-compat.js';
import * as check from '../internal/validate.js';

/** A stream `leakCheck()` can watch. */
export type TrackedStream = Readable | Writable;

/** Options for {@link leakCheck}. */
export interface LeakCheckOptions {
  /**
   * AbortSignals whose `'abort'` listeners are noted now; a listener `verify()` finds that was not
   * there now is a leak.
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
   * Resource types (as `process.getActiveResourcesInfo()` names them, e.g. `'TTYWrap'`, or
   * `'Worker'`) never reported.
   * @default []
   */
  ignore?: readonly string[];
}

/** What {@link leakCheck} returns. */
export interface LeakCheck {
  /**
   * Watches one more stream (it must be destroyed by `verify()`) or AbortSignal (every `'abort'`
   * listener it has in `verify()` must be one it has now). Returns its argument, so it can wrap a
   * constructor call. Reports name it by `name` when given, else by position: streams `#1`, `#2`…
   * in the order watched (`options.streams` first), signals `signals[i]` continuing the indices of
   * `options.signals`.
   */
  track<S extends TrackedStream | AbortSignal>(target: S, name?: string): S;
  /**
   * Resolves when nothing was left since the snapshot; otherwise rejects with a {@link LeakError}
   * naming each leak on its own line. Once the first call settles, new resources are no longer
   * noted (see {@link leakCheck}); later calls check again what was noted until then.
   */
  verify(): Promise<void>;
}

/** `verify()` found something left behind. `leaks` holds one line per leak. */
export class LeakError extends SluiceError {
  /** One entry per leak, e.g. `1 Timeout left active`. */
  readonly leaks: readonly string[];

  constructor(leaks: readonly string[]) {
    super('ERR_SLUICE_LEAK', `leakCheck(): ${leaks.length} leak${leaks.length === 1 ? '' : 's'} since the snapshot:\n  ${leaks.join('\n  ')}`);
    this.leaks = leaks;
  }
}

const WHERE = 'leakCheck()';
// Rounds of the event loop to try before falling back to polling: closing handles and streams
// normally finish within one or two.
const IMMEDIATE_ROUNDS = 5;
const POLL_INTERVAL = 10;

// The async_hooks types compared by identity, with the names process.getActiveResourcesInfo() gives
// them on Node 20 (checked one by one), so reports read as they did with counts alone; it lists no
// Worker at all, so that name is ours. Requests (FSReqCallback, ConnectWrap…) are left to the
// counts: nothing on them tells when one is done.
const NAMES: ReadonlyMap<string, string> = new Map([
  ['Timeout', 'Timeout'],
  ['Immediate', 'Immediate'],
  ['TCPWRAP', 'TCPSocketWrap'],
  ['TCPSERVERWRAP', 'TCPServerWrap'],
  ['PIPEWRAP', 'PipeWrap'],
  ['PIPESERVERWRAP', 'PipeWrap'],
  ['TTYWRAP', 'TTYWrap'],
  ['UDPWRAP', 'UDPWrap'],
  ['PROCESSWRAP', 'ProcessWrap'],
  ['FSEVENTWRAP', 'FSEventWrap'],
  ['STATWATCHER', 'StatWatcher'],
  ['MESSAGEPORT', 'MessagePort'],
  ['WORKER', 'Worker'],
]);
// Finished timers are swept out of the hook's notes once it holds this many resources, then once it
// holds twice what the last sweep left.
const SWEEP_MIN = 1024;

interface WatchedSignal {
  signal: AbortSignal;
  label: string;
  listeners: readonly unknown[];
}
interface WatchedStream {
  stream: TrackedStream;
  label: string;
}
/** What the timers, immediates, handles and workers named in NAMES have in common. */
interface Resource {
  hasRef(): unknown;
}

/**
 * Takes a snapshot of the process and returns a check whose `verify()` rejects if anything new since
 * then is still there, or if a watched stream was not destroyed. It watches:
 *
 * - Timers, immediates, handles (servers, sockets, pipes, child processes, file watchers, message
 *   ports) and worker threads, by identity: from the snapshot until `verify()` settles, an
 *   `async_hooks` hook notes each one created, and those still keeping the process alive are
 *   reported (`1 Timeout left active`, `1 Worker left active`), even when an older one of the same
 *   type went away meanwhile. Everything `process.getActiveResourcesInfo()` lists is also compared by
 *   count per type, which catches what the hook cannot judge: a pending request (`FSReqCallback`…),
 *   or a handle from before the snapshot `ref()`ed again. The larger figure is reported.
 * - Listeners on `process` for every OS signal in `os.constants.signals`, by identity, such as the
 *   ones an undisposed `shutdownSignal()` leaves: `1 'SIGINT' listener left on process`.
 * - `'abort'` listeners on the given signals, by identity.
 * - The given streams, which must be destroyed and closed.
 *
 * Only resources that keep the process alive count: an `unref()`ed timer is not reported. Before
 * deciding, `verify()` lets the event loop turn a few times and then polls for up to
 * `options.timeout` ms, because closing handles and destroyed streams finish a tick later. A timer
 * that fires within that time is therefore not reported either. Resources of other code running
 * concurrently in the same process (another test, a reporter) are counted too: snapshot and verify
 * around code that runs alone.
 *
 * The hook makes every promise created meanwhile a little slower, and it is disabled only when a
 * `verify()` settles, so call `verify()` even when the test fails early (in a `finally`). Resources
 * created after that are compared by count alone.
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
 *
 * @example A timer cleared meanwhile does not hide a new one
 * ```ts
 * import { leakCheck } from 'sluice/testing';
 * const old = setInterval(() => {}, 1000);
 * const check = leakCheck({ timeout: 0 });
 * clearInterval(old);
 * const fresh = setInterval(() => {}, 1000);
 * await assert.rejects(check.verify(), /1 Timeout left active/);
 * clearInterval(fresh);
 * ```
 */
export function leakCheck(options?: LeakCheckOptions): LeakCheck {
  const opts = check.options(WHERE, options, 'options', ['signals', 'streams', 'timeout', 'ignore']);
  const timeout = opts.timeout === undefined ? 100 : check.number(WHERE, 'options.timeout', opts.timeout, 0);
  const ignore = new Set(
    list<string>('options.ignore', opts.ignore, (v, name) => {
      if (typeof v !== 'string') throw new TypeError(`${WHERE}: ${name} must be a string, got ${typeof v}`);
    }),
  );
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
  }))
    trackStream(s, undefined);
  const before = countResources();
  const processListeners = signalListeners();
  const created = watchCreated();

  const leaks = (): string[] => {
    const found: string[] = [];
    const now = countResources();
    const alive = created.alive();
    // Both are lower bounds of what was left: identity sees the new timer that an old one, cleared
    // meanwhile, hides from the counts; the counts see requests and old handles ref()ed again.
    for (const type of new Set([...now.keys(), ...alive.keys()])) {
      const extra = Math.max(alive.get(type) ?? 0, (now.get(type) ?? 0) - (before.get(type) ?? 0));
      if (extra > 0 && !ignore.has(type)) found.push(`${extra} ${type} left active`);
    }
    for (const [name, listeners] of processListeners) {
      const extra = added(listeners, process.listeners(name));
      if (extra > 0) found.push(`${extra} '${name}' listener${extra === 1 ? '' : 's'} left on process`);
    }
    for (const { signal, label, listeners } of signals) {
      const extra = added(listeners, abortListeners(signal));
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
      try {
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
      } finally {
        created.stop();
      }
    },
  };
}

function list<T>(name: string, value: unknown, each: (v: unknown, name: string) => void): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(`${WHERE}: ${name} must be an array, got ${typeof value}`);
  for (const [i, v] of value.entries()) each(v, `${name}[${i}]`);
  return [...value] as T[];
}

function isStream(value: unknown): value is TrackedStream {
  return typeof value === 'object' && value !== null && typeof (value as { destroy?: unknown }).destroy === 'function' && 'destroyed' in value;
}

function abortListeners(signal: AbortSignal): readonly unknown[] {
  return getEventListeners(signal, 'abort');
}

/** The listeners `process` has now for each OS signal Node knows. */
function signalListeners(): Map<NodeJS.Signals, readonly unknown[]> {
  const names = Object.keys(constants.signals) as NodeJS.Signals[];
  return new Map(names.map((name) => [name, process.listeners(name)]));
}

/** How many of the listeners `now` were not there `before` (each one there counts once). */
function added(before: readonly unknown[], now: readonly unknown[]): number {
  const old = [...before];
  let n = 0;
  for (const listener of now) {
    const i = old.indexOf(listener);
    if (i === -1) n++;
    else old.splice(i, 1);
  }
  return n;
}

/**
 * Notes the resources of the types in NAMES created from now until `stop()`. An init hook alone: a
 * destroy hook would make Node track the end of every promise (promise-heavy code measured 3x as
 * slow, against 1.4x with init alone), so finished timers are swept out instead.
 */
function watchCreated(): { alive(): Map<string, number>; stop(): void } {
  // Keyed by object: a fired timer refresh()ed again is announced again, under a new id.
  const created = new Map<Resource, string>();
  let sweepAt = SWEEP_MIN;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      const name = NAMES.get(type);
      if (name === undefined) return;
      created.set(resource as Resource, name);
      if (created.size < sweepAt) return;
      // A fired or cleared timer keeps nothing alive until refresh() announces it again; a handle
      // that is unref()ed now might be ref()ed again unannounced, so it stays.
      for (const r of created.keys()) if (timerSpent(r)) created.delete(r);
      sweepAt = Math.max(SWEEP_MIN, 2 * created.size);
    },
  }).enable();
  return {
    alive() {
      const counts = new Map<string, number>();
      for (const [r, name] of created) {
        if (!timerSpent(r) && r.hasRef() === true) counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      return counts;
    },
    stop() {
      hook.disable();
    },
  };
}

function countResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}
