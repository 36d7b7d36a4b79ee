import { constants } from 'node:os';
import { ShutdownError } from './errors.js';
import * as check from './internal/validate.js';

/** Options for {@link shutdownSignal}. */
export interface ShutdownSignalOptions {
  /**
   * The OS signals that ask for a shutdown. Any signal Node can listen for except the ones it cannot
   * catch (`SIGKILL`, `SIGSTOP`).
   * @default ['SIGINT', 'SIGTERM']
   */
  signals?: readonly NodeJS.Signals[];
  /**
   * Called with the second signal's name, synchronously, just before that signal is raised again.
   * The process usually dies at once then, before any pending asynchronous cleanup runs, so this is
   * the last chance for synchronous cleanup such as `unlinkSync` of a temp file. The signal is
   * raised again even if it throws.
   * @default undefined
   */
  onForce?: (signal: NodeJS.Signals) => void;
}

/** What {@link shutdownSignal} returns. Use it with `using`, or call `dispose()` when done. */
export interface ShutdownSignal extends Disposable {
  /** Aborts on the first OS signal, with a {@link ShutdownError} as its reason. */
  readonly signal: AbortSignal;
  /** Removes every process listener; the signals get their default behaviour back. Idempotent. */
  dispose(): void;
}

const WHERE = 'shutdownSignal()';
const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP']);

/**
 * Graceful shutdown on Ctrl-C: an AbortSignal that aborts on the first of `options.signals` the
 * process receives, so the pipelines given that signal stop taking input and let in-flight work
 * finish or be cancelled. The abort reason is a {@link ShutdownError} (code `ERR_SLUICE_SHUTDOWN`)
 * whose `signal` names the OS signal.
 *
 * A second signal means "now": the listeners are removed and that signal is raised again, so the
 * process dies of it as if nobody had listened (a shell reports 130 for SIGINT, 143 for SIGTERM).
 * Other listeners for the same signal elsewhere in the process keep it alive, as Node does. Just
 * before, `options.onForce` is called, for the cleanup that cannot wait.
 *
 * While the listeners are attached, the signals no longer kill the process by themselves, so call
 * `dispose()` (or declare it with `using`) once the work is done. The listeners do not keep the
 * process alive. After `dispose()`, `signal` never aborts.
 *
 * @param options Which signals to listen for, and what to do before a second one ends the process.
 *   See {@link ShutdownSignalOptions}.
 * @returns A {@link ShutdownSignal}: the `signal` to pass on, and `dispose()`.
 * @throws {TypeError} When `options.signals` is not a non-empty array of signal names Node can
 *   listen for, or `options.onForce` is not a function.
 *
 * @example Stop a long job when the process is told to
 * ```ts
 * import { shutdownSignal, ShutdownError } from 'sluice';
 * const shutdown = shutdownSignal({ signals: ['SIGUSR2'] });
 * try {
 *   const job = new Promise<string>((resolve) => {
 *     const work = setInterval(() => {}, 10);
 *     shutdown.signal.addEventListener('abort', () => {
 *       clearInterval(work);
 *       resolve('stopped cleanly');
 *     });
 *   });
 *   process.kill(process.pid, 'SIGUSR2'); // as `kill -USR2 <pid>` would
 *   assert.equal(await job, 'stopped cleanly');
 *   const reason: unknown = shutdown.signal.reason;
 *   assert.ok(reason instanceof ShutdownError);
 *   assert.equal(reason.code, 'ERR_SLUICE_SHUTDOWN');
 *   assert.equal(reason.signal, 'SIGUSR2');
 * } finally {
 *   shutdown.dispose();
 * }
 * ```
 */
export function shutdownSignal(options?: ShutdownSignalOptions): ShutdownSignal {
  const opts = check.options(WHERE, options, 'options', ['signals', 'onForce']);
  const signals = opts.signals === undefined ? (['SIGINT', 'SIGTERM'] as const) : signalNames(opts.signals);
  const onForce = opts.onForce === undefined ? undefined : check.func<(signal: NodeJS.Signals) => void>(WHERE, 'options.onForce', opts.onForce);
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (!controller.signal.aborted) {
      controller.abort(new ShutdownError(name));
      return;
    }
    // Without our listeners the signal's default action is back, so raising it again ends the process.
    dispose();
    try {
      onForce?.(name);
    } finally {
      process.kill(process.pid, name);
    }
  };
  const listeners = [...new Set(signals)].map((name) => [name, () => onSignal(name)] as const);
  for (const [name, listener] of listeners) process.on(name, listener);
  const dispose = (): void => {
    for (const [name, listener] of listeners) process.removeListener(name, listener);
  };
  return { signal: controller.signal, dispose, [Symbol.dispose]: dispose };
}

function signalNames(value: unknown): NodeJS.Signals[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError(`${WHERE}: options.signals must be a non-empty array of signal names, got ${describe(value)}`);
  }
  return value.map((name: unknown, i) => {
    if (typeof name !== 'string' || !Object.hasOwn(constants.signals, name) || UNCATCHABLE.has(name)) {
      throw new TypeError(`${WHERE}: options.signals[${i}] must be the name of a signal Node can listen for, such as "SIGINT", got ${describe(name)}`);
    }
    return name as NodeJS.Signals;
  });
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value === 'string' ? `${JSON.stringify(value)} (string)` : `${String(value)} (${typeof value})`;
}
