// One call of a user's function with a time limit and retries: what parallel() (and threads()) run
// per item. The pool, the order and onError are the engine's.
import { TimeoutError } from '../errors.js';
import type { Backoff } from './backoff.js';
import { isThenable, type StageContext, type StepFn } from './steps.js';
import { sleep } from './timers.js';

export interface AttemptOptions {
  /** Milliseconds per try; undefined for none. */
  timeout: number | undefined;
  backoff: Backoff;
  /** Names the call in a TimeoutError, e.g. `parallel()`. */
  where: string;
  /** Called before each retry (the stage counts them). */
  onRetry?: () => void;
}

/**
 * `fn` wrapped so that each try gets `timeout` ms (its `signal` then aborts and the try fails with a
 * {@link TimeoutError}) and a failed try is run again after the backoff's delay, as long as it allows.
 * Without a timeout or retries, `fn` itself.
 */
export function attempt(fn: StepFn, opts: AttemptOptions): StepFn {
  const { timeout, backoff, where, onRetry } = opts;
  if (timeout === undefined && backoff.retries === 0) return fn;
  const once: StepFn = timeout === undefined ? fn : (item, ctx) => limited(fn, item, ctx, timeout, where);
  if (backoff.retries === 0) return once;
  return (item, ctx) => retried(once, item, ctx, backoff, onRetry);
}

/** One try with its own signal, aborted by the stage's or when `timeout` runs out. */
function limited(fn: StepFn, item: unknown, ctx: StageContext, timeout: number, where: string): Promise<unknown> {
  const call = new AbortController();
  const stage = ctx.signal;
  return new Promise((resolve, reject) => {
    const settle = (): void => {
      clearTimeout(timer);
      stage.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      settle();
      call.abort(stage.reason);
      reject(stage.reason);
    };
    const timer = setTimeout(() => {
      const error = new TimeoutError(`${where}: the call for item ${ctx.index}`, timeout);
      stage.removeEventListener('abort', onAbort);
      call.abort(error);
      reject(error);
    }, timeout);
    stage.addEventListener('abort', onAbort, { once: true });
    let result: unknown;
    try {
      result = fn(item, { signal: call.signal, index: ctx.index, line: ctx.line });
    } catch (error) {
      settle();
      reject(error);
      return;
    }
    if (!isThenable(result)) {
      settle();
      resolve(result);
      return;
    }
    result.then(
      (value) => {
        settle();
        resolve(value);
      },
      (error: unknown) => {
        settle();
        reject(error);
      },
    );
  });
}

async function retried(once: StepFn, item: unknown, ctx: StageContext, backoff: Backoff, onRetry: (() => void) | undefined): Promise<unknown> {
  // The context may be shared and refilled by later calls: keep what this item's tries need.
  const own: StageContext = { signal: ctx.signal, index: ctx.index, line: ctx.line };
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(item, own);
    } catch (error) {
      if (own.signal.aborted || attempt > backoff.retries || !backoff.retryIf(error, attempt)) throw error;
    }
    await sleep(backoff.delay(attempt), own.signal);
    onRetry?.();
  }
}
