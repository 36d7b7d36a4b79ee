// `sluice --threads N` on regular files: the threads read the files themselves. The main thread
// only cuts each file into byte ranges of whole lines (a few small reads near each cut) and sends
// the ranges; each thread reads its range into a buffer it reuses. Nothing is read twice or
// transferred, the main thread stays free to merge results, and memory stays at a few buffers per
// thread. What the main thread learns from a file's first bytes (gzip, BOM, binary, line ending),
// it checks as decode.ts does for a stream; gzip input and line numbers known up front (NR, --skip)
// need the stream of chunks instead (threaded.ts).
import { closeSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Endings } from './decode.js';
import { reason, RunError } from './errors.js';
import type { Input } from './inputs.js';
import type { Chunk } from './thread-worker.js';

/** Bytes per range, about. */
const RANGE = 4 * 1024 * 1024;
/** Bytes read at a time when looking for a newline. */
const PROBE = 64 * 1024;
/** Bytes looked at for a NUL before the input is taken as text (as decode.ts). */
const SNIFF = 8 * 1024;
/** A line longer than this is split()'s error (its default maxLength): no cut is looked for beyond it. */
const MAX_LINE = 64 * 1024 * 1024;

/** Whether every input is a regular file that is not gzip: then the threads can read ranges of it. */
export function readableInRanges(inputs: readonly Input[]): boolean {
  return inputs.every((input) => input.size !== undefined && input.name !== '-' && !startsWithGzip(input.name));
}

function startsWithGzip(path: string): boolean {
  const head = Buffer.alloc(2);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } catch {
    // Read again, and reported with its path, when the run gets to it.
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The inputs as ranges of whole lines, in order: chunks whose bytes the thread reads (`range`). */
export class Ranges extends Readable {
  readonly #inputs: readonly Input[];
  readonly #binaryOk: boolean;
  #index = -1;
  #file: FileHandle | undefined;
  #input: Input | undefined;
  #size = 0;
  /** Where the next range starts; the BOM's length, which offsets in messages do not count. */
  #at = 0;
  #bom = 0;
  #doneBytes = 0;
  #newline: string | undefined;
  #finalNewline = true;
  #busy = false;

  constructor(inputs: readonly Input[], opts: { binaryOk: boolean }) {
    super({ objectMode: true, highWaterMark: 2 });
    this.#inputs = inputs;
    this.#binaryOk = opts.binaryOk;
  }

  /** Bytes handed to the threads so far (a range counts once it is sent). */
  get bytesRead(): number {
    return this.#doneBytes + this.#at;
  }

  get endings(): Endings {
    return { newline: this.#newline ?? '\n', finalNewline: this.#finalNewline };
  }

  override _read(): void {
    if (this.#busy) return;
    this.#busy = true;
    this.#next().then(
      (more) => {
        this.#busy = false;
        if (more) this._read();
      },
      (err: unknown) => this.destroy(this.#input !== undefined && isSystemError(err) ? new RunError(`${this.#input.label}: ${reason(err)}`) : (err as Error)),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const file = this.#file;
    this.#file = undefined;
    if (file === undefined) callback(error);
    else
      file.close().then(
        () => callback(error),
        () => callback(error),
      );
  }

  /** Pushes the next range (opening the next input when one ends); resolves to whether more is wanted. */
  async #next(): Promise<boolean> {
    while (this.#file === undefined || this.#at >= this.#size) {
      if (this.#file !== undefined) await this.#close();
      const input = this.#inputs[++this.#index];
      if (input === undefined) {
        this.push(null);
        return false;
      }
      await this.#open(input);
      if (this.destroyed) return false;
    }
    const input = this.#input!;
    const start = this.#at;
    const end = start + RANGE >= this.#size ? this.#size : await this.#cut(start + RANGE);
    if (this.destroyed) return false;
    this.#at = end;
    const chunk: Chunk = {
      parts: [],
      move: [],
      range: { path: input.name, start, end },
      file: input.label,
      firstLine: undefined,
      firstOffset: start - this.#bom,
      before: 0,
      newline: this.#newline ?? '\n',
    };
    return this.push(chunk);
  }

  async #open(input: Input): Promise<void> {
    this.#input = input;
    const file = await open(input.name, 'r');
    if (this.destroyed) {
      await file.close();
      return;
    }
    this.#file = file;
    this.#size = (await file.stat()).size;
    const head = await this.#read(0, Math.min(this.#size, PROBE));
    this.#bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
    this.#at = this.#bom;
    if (!this.#binaryOk) {
      const nul = head.subarray(this.#bom, this.#bom + SNIFF).indexOf(0);
      if (nul !== -1) throw new RunError(`${input.label}: binary input (a NUL byte at offset ${nul}); use --text to read it as text anyway`);
    }
    // The output's line ending is the first input's first line's.
    if (this.#index === 0) {
      const nl = await this.#find(this.#bom);
      if (nl !== undefined) this.#newline = nl > 0 && (await this.#read(nl - 1, 1))[0] === 0x0d ? '\r\n' : '\n';
    }
    this.#finalNewline = this.#size === 0 || (await this.#read(this.#size - 1, 1))[0] === 0x0a;
  }

  /** Where the range that should end near `nominal` ends: after the first newline at `nominal - 1` or later. */
  async #cut(nominal: number): Promise<number> {
    const nl = await this.#find(nominal - 1, nominal + MAX_LINE);
    // No newline for too long: split() reports that line as too long, where it starts.
    return nl === undefined ? Math.min(this.#size, nominal + MAX_LINE) : nl + 1;
  }

  /** The position of the first newline at `from` or after (before `limit`), if any. */
  async #find(from: number, limit = this.#size): Promise<number | undefined> {
    for (let at = from; at < Math.min(limit, this.#size); at += PROBE) {
      const bytes = await this.#read(at, Math.min(PROBE, this.#size - at));
      const nl = bytes.indexOf(0x0a);
      if (nl !== -1) return at + nl;
      if (bytes.length === 0) return undefined;
    }
    return undefined;
  }

  async #read(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await this.#file!.read(buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  }

  async #close(): Promise<void> {
    const file = this.#file!;
    this.#file = undefined;
    this.#doneBytes += this.#at;
    this.#at = 0;
    await file.close();
  }
}

function isSystemError(err: unknown): boolean {
  return typeof (err as { syscall?: unknown } | null)?.syscall === 'string';
}

/** Buffers a thread reads its ranges into, reused (several at once with --parallel). */
const free: Buffer[] = [];

/**
 * Reads a range in a thread: `use(bytes)` gets its bytes (valid until it settles: the buffer is
 * reused). A file that is shorter now gives what is there. A read error names the file.
 */
export async function withRange<T>(chunk: Chunk, use: (bytes: Buffer) => Promise<T>): Promise<T> {
  const { path, start, end } = chunk.range!;
  const length = end - start;
  let buffer = free.pop();
  if (buffer === undefined || buffer.length < length) buffer = Buffer.allocUnsafeSlow(Math.max(length, RANGE + PROBE));
  try {
    let got = 0;
    let fd: number | undefined;
    try {
      fd = openSync(path, 'r');
      for (let n = -1; got < length && n !== 0; got += n) n = readSync(fd, buffer, got, length - got, start + got);
    } catch (err) {
      throw new RunError(`${chunk.file}: ${reason(err)}`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return await use(buffer.subarray(0, got));
  } finally {
    free.push(buffer);
  }
}
