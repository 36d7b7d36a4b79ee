// The input side: every file in turn through its own split(), as one object-mode Readable, so that
// line numbers count per file and a file's last line never runs into the next file's first.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline, split, type Split } from '../index.js';
import { reason, RunError } from './errors.js';

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
      let info;
      try {
        info = await stat(name);
      } catch (err) {
        throw new RunError(`${name}: ${reason(err)}`);
      }
      if (info.isDirectory()) throw new RunError(`${name}: is a directory`);
      return { name, label: name, size: info.isFile() ? info.size : undefined };
    }),
  );
}

/** A per-line function run inside split() (its `map`): the leading stages of the program. */
export type LineFn = (line: string, lineNumber: number, input: Input) => unknown;

/**
 * What `perLine` makes of the lines of every input in turn (undefined: nothing). Backpressure is
 * passed on: a file's split() is paused while this stream's buffer is full. An error names the
 * input: a read error as `path: reason`, a split() error gets its `file` set.
 */
export class Lines extends Readable {
  readonly #inputs: readonly Input[];
  readonly #perLine: LineFn;
  #index = -1;
  #source: (Readable & { bytesRead?: number }) | undefined;
  #split: Split<unknown> | undefined;
  #doneBytes = 0;
  #doneLines = 0;

  constructor(inputs: readonly Input[], perLine: LineFn) {
    super({ objectMode: true, highWaterMark: 16 });
    this.#inputs = inputs;
    this.#perLine = perLine;
  }

  /** Bytes read so far, over all inputs. */
  get bytesRead(): number {
    // fs.ReadStream and net.Socket (stdin as a pipe or a terminal) both count what they read.
    return this.#doneBytes + (this.#source?.bytesRead ?? 0);
  }

  /** Lines split so far, over all inputs. */
  get linesRead(): number {
    return this.#doneLines + (this.#split?.lines ?? 0);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.#next();
    callback();
  }

  override _read(): void {
    this.#split?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#split?.destroy();
    this.#source?.destroy();
    callback(error);
  }

  #next(): void {
    if (this.destroyed) return;
    if (this.#split !== undefined) {
      this.#doneBytes = this.bytesRead;
      this.#doneLines += this.#split.lines;
    }
    this.#source = this.#split = undefined;
    const input = this.#inputs[++this.#index];
    if (input === undefined) {
      this.push(null);
      return;
    }
    const perLine = this.#perLine;
    const source: Readable = input.name === '-' ? process.stdin : createReadStream(input.name, { highWaterMark: CHUNK });
    const lines = split<unknown>({ map: (line, n) => perLine(line, n, input) });
    this.#source = source;
    this.#split = lines;
    lines.on('data', (item: unknown) => {
      if (!this.push(item)) lines.pause();
    });
    // Next file once this one's lines have all been passed on ('end') and its pipeline has closed.
    let steps = 0;
    const step = (): void => {
      if (++steps === 2) this.#next();
    };
    lines.once('end', step);
    pipeline(source, lines).then(step, (err: unknown) => this.destroy(located(err, input)));
  }
}

function located(err: unknown, input: Input): Error {
  const e = err as { file?: unknown; line?: unknown; code?: unknown; syscall?: unknown } | null;
  // split()'s input errors (LineError, LineTooLongError, InvalidUtf8Error) have a settable `file`.
  if (e !== null && typeof e === 'object' && typeof e.line === 'number' && String(e.code).startsWith('ERR_SLUICE_')) {
    e.file = input.label;
    return err as Error;
  }
  if (e !== null && typeof e === 'object' && typeof e.syscall === 'string') return new RunError(`${input.label}: ${reason(err)}`);
  return err as Error;
}
