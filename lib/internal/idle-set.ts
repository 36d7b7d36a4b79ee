// The idle sub-pipelines of partition(): least recently idle first, each ended once it has been idle
// for `timeout` ms, by one timer armed for the oldest only.

export class IdleSet<T> {
  /** When each went idle; a Map keeps insertion order, so the first is the least recently idle. */
  readonly #since = new Map<T, number>();
  readonly #timeout: number | undefined;
  readonly #expire: (thing: T) => void;
  #timer: NodeJS.Timeout | undefined;

  /** `expire(thing)` is called for each that stayed idle `timeout` ms; never without a `timeout`. */
  constructor(timeout: number | undefined, expire: (thing: T) => void) {
    this.#timeout = timeout;
    this.#expire = expire;
  }

  /** It went idle now. */
  add(thing: T): void {
    this.#since.delete(thing);
    this.#since.set(thing, performance.now());
    this.#schedule();
  }

  /** It is busy again, or gone. Its timer, if armed, still fires and finds it missing. */
  delete(thing: T): void {
    this.#since.delete(thing);
  }

  /** The least recently idle, if any. */
  oldest(): T | undefined {
    return this.#since.keys().next().value;
  }

  /** Clears the timer (the stage ends or is destroyed). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timeout === undefined || this.#timer !== undefined) return;
    const first = this.#since.values().next();
    if (!first.done) this.#timer = setTimeout(this.#fire, first.value + this.#timeout - performance.now());
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (const [thing, since] of this.#since) {
      if (since + this.#timeout! > now) break;
      this.#since.delete(thing);
      this.#expire(thing);
    }
    this.#schedule();
  };
}
