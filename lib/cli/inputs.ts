// The input side: every file in turn through its own decoding and split(), as one object-mode
// Readable, so that line numbers count per file and a file's last line never runs into the next file's first.
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { pipeline, statsOf, type StageStats } from '../index.js';
import { sum } from './report.js';
import { gzipError, isGzip, TextBytes, type Endings } from './decode.js';
import { reason, RunError } from './errors.js';
import type { InputStage } from './program.js';

/** Files are read 1 MiB at a time: ~1.8x faster than the 64 KiB default. */
const CHUNK = 1024 * 1024;

export interface Input {
  /** As given on the command line; `-` for stdin. */
  name: string;
  /** The name used in messages: the path, or `<stdin>`. */
  label: string;
  /** Bytes, for a regular file; undefined for stdin, pipes and devices. */
  size: number | undefined;
}

/** Checks every input before anything is read, so that a typo fails fast with the path and reason. */
export async function checkInputs(names: readonly string[]): Promise<Input[]> {
  const list = names.length === 0 ? ['-'] : names;
  return Promise.all(
    list.map(async (name): Promise<Input> => {
      if (name === '-') return { name, label: '<stdin>', size: undefined };
      let info: Stats;
      try {
        info = await stat(name);
      } catch (err) {
        // As grep, gawk, jq and ripgrep do: a file that is not there is a mistake on the command line.
        throw new RunError(`${name}: ${reason(err)}`, (err as { code?: unknown }).code === 'ENOENT' ? 2 : 1);
      }
      if (info.isDirectory()) throw new RunError(`${name}: is a directory`);
      return { name, label: name, size: info.isFile() ? info.size : undefined };
    }),
  );
}

/**
 * What the per-line stages make of the lines of every input in turn. Each input's bytes are decoded
 * first (decode.ts: gzip, BOM, binary, endings). Backpressure is passed on: an input's stage is
 * paused while this stream's buffer is full. A read error names the input (`path: reason`); the
 * stages' own errors already do (split's `name`).
 */
export class Lines extends Readable {
  readonly #inputs: readonly Input[];
  readonly #make: (input: Input, before: number) => InputStage;
  readonly #binaryOk: boolean;
  #index = -1;
  #source: (Readable & { bytesRead?: number }) | undefined;
  #stage: InputStage | undefined;
  #doneBytes = 0;
  #doneLines = 0;
  /** The stats of the per-line stages of the inputs read before the current one. */
  #done: StageStats[] = [];
  /** The first input's decoding (its line ending is the output's), and the latest one's. */
  #first: TextBytes | undefined;
  #latest: TextBytes | undefined;

  constructor(inputs: readonly Input[], make: (input: Input, before: number) => InputStage, binaryOk: boolean) {
    super({ objectMode: true, highWaterMark: 16 });
    this.#inputs = inputs;
    this.#make = make;
    this.#binaryOk = binaryOk;
  }

  /** Bytes read so far, over all inputs. */
  get bytesRead(): number {
    // fs.ReadStream and net.Socket (stdin as a pipe or a terminal) both count what they read.
    return this.#doneBytes + (this.#source?.bytesRead ?? 0);
  }

  /** The first input's line ending, and whether the input read last ends with one. */
  get endings(): Endings {
    return { newline: this.#first?.endings.newline ?? '\n', finalNewline: this.#latest?.endings.finalNewline ?? true };
  }

  /** The per-line stages' counters and times, over all inputs (pipeline()'s stats report shows them). */
  stats(): StageStats {
    const current = this.#stage?.stage as { stats?: () => StageStats } | undefined;
    return sum('per-line stages', [...this.#done, ...(current?.stats === undefined ? [] : [current.stats()])]);
  }

  get [statsOf](): boolean {
    return true;
  }

  /** Lines split so far, over all inputs. */
  get linesRead(): number {
    return this.#doneLines + (this.#stage?.lines() ?? 0);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.#next();
    callback();
  }

  override _read(): void {
    this.#stage?.stage.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#stage?.stage.destroy();
    this.#source?.destroy();
    callback(error);
  }

  #next(): void {
    if (this.destroyed) return;
    if (this.#stage !== undefined) {
      this.#doneBytes = this.bytesRead;
      this.#doneLines = this.linesRead;
      const stats = (this.#stage.stage as { stats?: () => StageStats }).stats;
      if (stats !== undefined) this.#done.push(stats.call(this.#stage.stage));
    }
    this.#source = this.#stage = undefined;
    const input = this.#inputs[++this.#index];
    if (input === undefined) {
      this.push(null);
      return;
    }
    const source = openInput(input, CHUNK);
    this.#source = source;
    this.#open(input, source).catch((err: unknown) => this.destroy(located(err, input)));
  }

  async #open(input: Input, source: Readable): Promise<void> {
    const gzip = await isGzip(source);
    if (this.destroyed) return;
    const text = new TextBytes(input.label, this.#binaryOk);
    this.#first ??= text;
    this.#latest = text;
    const made = this.#make(input, this.#doneLines);
    const stage = made.stage;
    this.#stage = made;
    stage.on('data', (item: unknown) => {
      if (!this.push(item)) stage.pause();
    });
    // Next input once this one's items have all been passed on ('end') and its pipeline has closed.
    let steps = 0;
    const step = (): void => {
      if (++steps === 2) this.#next();
    };
    stage.once('end', step);
    // The stage may still fail after its writable side has finished (an async step), when pipeline
    // no longer listens: this listener stays.
    stage.on('error', (err: unknown) => this.destroy(located(err, input)));
    await pipeline(source, ...(gzip ? [createGunzip()] : []), text, stage);
    step();
  }
}

/** A read error as `path: reason`, a gzip error as `path: cannot decompress: …`; anything else (split's errors name their input already) as it is. */
/** An input's bytes: stdin for `-`, else the file, read `highWaterMark` bytes at a time. */
export function openInput(input: Input, highWaterMark: number): Readable {
  return input.name === '-' ? process.stdin : createReadStream(input.name, { highWaterMark });
}

/** What went wrong with an input, naming it: a system error, a CSV error at its line, bad gzip. */
export function located(err: unknown, input: Input): Error {
  const e = err as { syscall?: unknown; code?: unknown; lines?: unknown; message?: unknown } | null;
  if (e !== null && typeof e === 'object' && typeof e.syscall === 'string') return new RunError(`${input.label}: ${reason(err)}`);
  if (typeof e?.code === 'string' && e.code.startsWith('CSV_')) return new RunError(`${input.label}:${String(e.lines)}: ${String(e.message)}`);
  return gzipError(input.label, err) ?? (err as Error);
}
