// The last stage of a run whose source acknowledges its items (checkpoint.ts), when that stage knows
// nothing of checkpoints: it is written the items, and each checkpoint is resolved once every item
// written before it has been called back.
import { Writable } from 'node:stream';
import { Checkpoint } from './checkpoint.js';
import { failWith } from './stage-options.js';
import { closed } from './streams.js';

type Callback = (error?: Error | null) => void;

export class AckSink extends Writable {
  readonly #sink: Writable;
  /** Items written to the sink, and how many of them it has called back. */
  #written = 0;
  #done = 0;
  /** Checkpoints waiting for the writes before them: resolved once `#done` reaches `after`. */
  #waiting: { after: number; checkpoint: Checkpoint }[] = [];

  constructor(sink: Writable) {
    super({ objectMode: true, highWaterMark: sink.writableHighWaterMark });
    this.#sink = sink;
    sink.on('error', (error: unknown) => failWith(this, error));
  }

  override _write(item: unknown, encoding: BufferEncoding, callback: Callback): void {
    if (item instanceof Checkpoint) {
      if (this.#done === this.#written) item.resolve();
      else this.#waiting.push({ after: this.#written, checkpoint: item });
      callback();
      return;
    }
    this.#written++;
    const more = this.#sink.write(item, encoding, (error) => {
      if (error) return;
      this.#done++;
      while (this.#waiting.length > 0 && this.#waiting[0]!.after <= this.#done) this.#waiting.shift()!.checkpoint.resolve();
    });
    if (more) callback();
    else this.#sink.once('drain', () => callback());
  }

  override _final(callback: Callback): void {
    this.#sink.end(() => callback());
  }

  override _destroy(error: Error | null, callback: Callback): void {
    if (!this.#sink.destroyed) this.#sink.destroy(error ?? undefined);
    void Promise.resolve(closed(this.#sink)).then(() => callback(error));
  }
}
