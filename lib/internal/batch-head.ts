// The head of a threads() stage: items written in are gathered into arrays of up to `size`, each
// given to the engine as one item (a batch for a worker thread). A partial batch goes after
// `maxWait` ms, or when a checkpoint comes (which then follows it), or at the end.
import { Checkpoint } from './checkpoint.js';
import type { Head, ItemSink } from './engine.js';

export class BatchHead implements Head {
  readonly located = false;
  readonly name = undefined;
  readonly passesCheckpoints = true;
  readonly #size: number;
  readonly #maxWait: number | undefined;
  readonly #give: ItemSink;
  #items: unknown[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(size: number, maxWait: number | undefined, give: ItemSink) {
    this.#size = size;
    this.#maxWait = maxWait;
    this.#give = give;
  }

  defer(): boolean {
    return false;
  }

  write(item: unknown): void {
    if (item instanceof Checkpoint) {
      this.#flush();
      this.#give(item, 0, undefined);
      return;
    }
    this.#items.push(item);
    if (this.#items.length >= this.#size) this.#flush();
    else if (this.#maxWait !== undefined && this.#timer === undefined) this.#timer = setTimeout(() => this.#flush(), this.#maxWait);
  }

  end(): void {
    this.#flush();
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#items = [];
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#items.length === 0) return;
    const batch = this.#items;
    this.#items = [];
    this.#give(batch, 0, undefined);
  }
}
