/** The longest delay `setTimeout` keeps: longer ones fire after 1 ms. Options that set a delay are validated against it. */
export const MAX_DELAY = 2 ** 31 - 1;

/** Resolves after `ms`; rejects with `signal.reason` (unchanged) as soon as `signal` aborts, clearing the timer. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
