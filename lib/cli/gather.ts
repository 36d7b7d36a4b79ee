// Reads gathered into chunks of whole lines for the threads (threaded.ts). A pipe gives 64 KiB at a
// time, and a chunk per read would cost a thread message and a pipeline each: reads are gathered
// until `size` bytes of whole lines are held, or `wait` ms after lines began to be held, so that a
// slow pipe's lines (`tail -f`) are not held back for long.

export class Gather {
  readonly #send: (bytes: Buffer) => void;
  readonly #size: number;
  readonly #wait: number;
  /** Views of the reads: a stream never writes again into what it gave. */
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** Bytes held up to the last newline. */
  #whole = 0;
  #timer: NodeJS.Timeout | undefined;

  /** `send(bytes)` gets each chunk in a buffer of its own (it can move to a thread). */
  constructor(send: (bytes: Buffer) => void, size: number, wait: number) {
    this.#send = send;
    this.#size = size;
    this.#wait = wait;
  }

  /** Bytes held after the last newline: the start of a line still to come, or a last line without one. */
  get partial(): boolean {
    return this.#heldBytes > this.#whole;
  }

  add(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const nl = bytes.lastIndexOf(0x0a);
    this.#held.push(bytes);
    if (nl !== -1) this.#whole = this.#heldBytes + nl + 1;
    this.#heldBytes += bytes.length;
    if (this.#whole >= this.#size) this.flush();
    else if (this.#whole > 0) this.#timer ??= setTimeout(() => this.flush(), this.#wait);
  }

  /** Sends the whole lines held; with `all` (the input ended), everything held. */
  flush(all = false): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const n = all ? this.#heldBytes : this.#whole;
    if (n === 0) return;
    const bytes = Buffer.allocUnsafeSlow(n);
    const rest: Buffer[] = [];
    let at = 0;
    for (const piece of this.#held) {
      const k = Math.min(piece.length, n - at);
      if (k > 0) at += piece.copy(bytes, at, 0, k);
      if (k < piece.length) rest.push(piece.subarray(k));
    }
    this.#held = rest;
    this.#heldBytes -= n;
    this.#whole = 0;
    this.#send(bytes);
  }

  /** Drops what is held and its timer (the run stopped). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#held = [];
  }
}
