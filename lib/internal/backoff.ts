import * as check from './validate.js';

/** Retry settings of `parallel()`. */
export interface RetryOptions {
  /** How many times a failed call is tried again. @default 0 */
  retries?: number;
  /** Delay before the first retry, in milliseconds (at most 2^31 - 1, setTimeout's limit). @default 100 */
  minDelay?: number;
  /** The longest delay between two tries, in milliseconds: >= `minDelay`, at most 2^31 - 1. @default 10000 */
  maxDelay?: number;
  /** Each delay is the previous one times this. @default 2 */
  factor?: number;
  /** Up to this fraction of each delay is taken off at random, so that retries spread out. @default 0.2 */
  jitter?: number;
  /** Whether an error is worth another try; `attempt` is 1 for the first retry. @default () => true */
  retryIf?: (error: unknown, attempt: number) => boolean;
}

export interface Backoff {
  retries: number;
  /** The delay before retry number `attempt` (1-based). */
  delay(attempt: number): number;
  retryIf: (error: unknown, attempt: number) => boolean;
}

export function backoff(where: string, retry: RetryOptions | undefined): Backoff {
  const o = check.options(where, retry, 'options.retry');
  const retries = o.retries === undefined ? 0 : check.integer(where, 'options.retry.retries', o.retries, 0);
  const minDelay = o.minDelay === undefined ? 100 : check.delay(where, 'options.retry.minDelay', o.minDelay, true);
  const maxDelay = o.maxDelay === undefined ? 10_000 : check.delay(where, 'options.retry.maxDelay', o.maxDelay, true);
  // One given below minDelay is refused; the default only caps the delays.
  if (o.maxDelay !== undefined && maxDelay < minDelay) check.number(where, 'options.retry.maxDelay', maxDelay, minDelay);
  const factor = o.factor === undefined ? 2 : check.number(where, 'options.retry.factor', o.factor, 1);
  const jitter = o.jitter === undefined ? 0.2 : check.number(where, 'options.retry.jitter', o.jitter, 0);
  if (jitter > 1) throw new RangeError(`${where}: options.retry.jitter must be a number from 0 to 1, got ${jitter} (number)`);
  const retryIf = o.retryIf === undefined ? () => true : check.func<Backoff['retryIf']>(where, 'options.retry.retryIf', o.retryIf);
  return {
    retries,
    retryIf,
    delay: (attempt) => {
      const base = Math.min(maxDelay, minDelay * factor ** (attempt - 1));
      return base * (1 - jitter * Math.random());
    },
  };
}
