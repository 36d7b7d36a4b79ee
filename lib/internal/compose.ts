import { Duplex, type DuplexOptions } from 'node:stream';
import { pipeline } from '../pipeline.js';
import type { ResolvedStageOptions } from './stage-options.js';
import { bindSignal } from './stage-options.js';
import { canEndEarly, closed, endsEarly } from './streams.js';

type Callback = (error?: Error | null) => void;

const ignore = (): void => {};

/**
 * One Duplex in front of several streams wired by `pipeline`: writes go to the first, reads come from
 * the last. An error in any of them destroys the whole; destroying the whole destroys every one and
 * calls back only once they have all closed.
 */
export class Composed extends Duplex {
  readonly #streams: Duplex[];
  readonly #head: Duplex;
  readonly #tail: Duplex;
  #onDrain: Callback | undefined;

  constructor(streams: Duplex[], opts: ResolvedStageOptions) {
    const head = streams[0]!;
    const tail = streams[streams.length - 1]!;
    // `readable`/`writable` are Duplex options that @types/node does not declare.
    super({
      objectMode: true,
      readableHighWaterMark: opts.readableHighWaterMark,
      writableHighWaterMark: opts.writableHighWaterMark,
      readable: tail.readable !== false && typeof tail.read === 'function',
      writable: head.writable !== false && typeof head.write === 'function',
    } as DuplexOptions);
    this.#streams = streams;
    this.#head = head;
    this.#tail = tail;
    const [first, ...rest] = streams;
    pipeline(first!, ...(rest as [Duplex])).catch((err: unknown) => this.destroy(err as Error));
    // The inner pipeline may have settled (the tail's writable side finished) while the tail still
    // holds items for us; destroying it with an error then would emit 'error' with no listener and
    // crash the process. Errors reach the whole through the pipeline above; this only keeps them quiet.
    for (const stream of streams) stream.on('error', ignore);
    if (this.writable) {
      head.on('drain', () => {
        const callback = this.#onDrain;
        this.#onDrain = undefined;
        callback?.();
      });
    }
    if (this.readable) {
      tail.on('data', (chunk: unknown) => {
        if (!this.push(chunk)) tail.pause();
      });
      tail.once('end', () => this.push(null));
    }
    const enders = streams.filter(canEndEarly);
    if (enders.length > 0) {
      // The whole ends early when a stage inside does (`take` in a chain): its readable side is done
      // while upstream may still be writing.
      const ended = (): boolean => enders.some((stage) => stage[endsEarly]());
      Object.defineProperty(this, endsEarly, { value: ended });
      this.once('end', () => {
        if (ended()) this.destroy();
      });
    }
    bindSignal(this, opts.signal);
  }

  override _write(chunk: unknown, encoding: BufferEncoding, callback: Callback): void {
    if (this.#head.write(chunk, encoding)) callback();
    else this.#onDrain = callback;
  }

  override _final(callback: Callback): void {
    this.#head.end();
    const tail = this.#tail;
    if (!tail.writable && tail.writableFinished !== false) callback();
    else if (this.readable) callback();
    else tail.once('finish', () => callback());
  }

  override _read(): void {
    this.#tail.resume();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    for (const stream of this.#streams) if (!stream.destroyed) stream.destroy(error ?? undefined);
    Promise.all(this.#streams.map(closed)).then(() => callback(error));
  }
}
