// The controller of `concurrency: 'auto'`: AIMD on latency and failures, as TCP congestion control
// and Netflix's concurrency-limits do it. Every `limit` calls (a window, at least 8), it compares the
// window's mean latency with the baseline, the lowest window mean seen:
// - a call failed in the window: the service is overloaded (a 429, a timeout): limit × 0.9 (as
//   concurrency-limits' AIMD backs off; a deeper cut costs more throughput than the failures do);
// - mean latency over 1.5 × the baseline: calls queue up inside the service: limit - 1;
// - else there is room: limit + 1 (limit × 2 until the first window that is not: TCP's slow start,
//   so that the limit reaches a service's capacity in a few windows rather than one step a window).
// Always within [min, max].
// A baseline that followed the means up (a slow drift) would also follow the queueing it is there to
// see, and let the limit climb without end. Instead, every PROBE_EVERY windows one window runs at half
// the limit (as the Vegas limiter probes): if latency fell with it, calls were queueing and the baseline
// stands; if it did not, the service got slower for good, and the probe's mean is the new baseline.

export interface LimiterSettings {
  min: number;
  max: number;
  initial: number;
}

const PROBE_EVERY = 40;

export class Limiter {
  readonly #min: number;
  readonly #max: number;
  #limit: number;
  #baseline = Infinity;
  #sum = 0;
  #count = 0;
  #failed = false;
  #windows = 0;
  #slowStart = true;
  /** The limit to go back to after the probe window now running, if one is. */
  #probing: number | undefined;
  /** The mean of the last window before the probe. */
  #before = 0;

  constructor(settings: LimiterSettings) {
    this.#min = settings.min;
    this.#max = settings.max;
    this.#limit = settings.initial;
  }

  get limit(): number {
    return this.#limit;
  }

  /** One call's latency (ms), and whether it failed; returns the limit, changed at a window's end. */
  sample(latency: number, failed: boolean): number {
    this.#sum += latency;
    this.#count++;
    if (failed) this.#failed = true;
    if (this.#count < Math.max(8, this.#limit)) return this.#limit;
    const mean = this.#sum / this.#count;
    const wasFailed = this.#failed;
    this.#sum = this.#count = 0;
    this.#failed = false;
    if (this.#probing !== undefined) {
      if (!wasFailed) this.#baseline = mean > 0.8 * this.#before ? mean : Math.min(this.#baseline, mean);
      this.#limit = this.#probing;
      this.#probing = undefined;
      return this.#limit;
    }
    this.#baseline = Math.min(this.#baseline, mean);
    let next: number;
    const queueing = mean > this.#baseline * 1.5;
    if (wasFailed || queueing) this.#slowStart = false;
    if (wasFailed) next = Math.floor(this.#limit * 0.9);
    else if (queueing) next = this.#limit - 1;
    else next = this.#slowStart ? this.#limit * 2 : this.#limit + 1;
    next = Math.min(this.#max, Math.max(this.#min, next));
    if (++this.#windows % PROBE_EVERY === 0) {
      this.#probing = next;
      this.#before = mean;
      next = Math.max(this.#min, Math.floor(next / 2));
    }
    this.#limit = next;
    return next;
  }
}
