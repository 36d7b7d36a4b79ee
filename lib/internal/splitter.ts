// What the two splitters (split-bytes.ts, split-regexp.ts) share: their settings, the line count and
// the errors that name a line, and turning written chunks into bytes.
import { InvalidChunkError, LineTooLongError } from '../errors.js';

/** Settings of a splitter, validated by split(). */
export interface SplitterOptions {
  maxLength: number;
  skipOverflow: boolean;
  fatal: boolean;
  /** Input name in errors. */
  name: string | undefined;
  /** The number of the first line (input that starts mid-file). */
  firstLine: number;
  /** The byte offset of the first byte. */
  firstOffset: number;
}

/** Receives each line, with the byte offset of its start and its 1-based number; may throw to fail the input. */
export type LineSink = (text: string, offset: number, line: number) => void;

export const EMPTY = Buffer.alloc(0);
/** Stands for a `null` chunk, which Writable would otherwise throw out of `write()`. */
export const NULL_CHUNK: unique symbol = Symbol('null chunk');

/** Chunks of this size and more are split on the next turn of the event loop. */
const DEFER_BYTES = 16 * 1024;

/** The line count and the line sink, shared by a splitter's parts. */
export class LineCounter {
  readonly maxLength: number;
  readonly skipOverflow: boolean;
  readonly fatal: boolean;
  readonly name: string | undefined;
  readonly sink: LineSink;
  /** Lines before the first one (`firstLine - 1`). */
  readonly #before: number;
  lines = 0;
  skipped = 0;

  constructor(opts: SplitterOptions, sink: LineSink) {
    this.maxLength = opts.maxLength;
    this.skipOverflow = opts.skipOverflow;
    this.fatal = opts.fatal;
    this.name = opts.name;
    this.sink = sink;
    this.#before = opts.firstLine - 1;
  }

  /** Where the next line is, for an error. */
  next(offset: number): { line: number; offset: number; file?: string } {
    const line = this.#before + this.lines + 1;
    return this.name === undefined ? { line, offset } : { line, offset, file: this.name };
  }

  emit(text: string, offset: number): void {
    this.sink(text, offset, this.#before + ++this.lines);
  }

  /** A finished line longer than maxLength. */
  overflow(offset: number): void {
    if (!this.skipOverflow) throw new LineTooLongError(this.next(offset), this.maxLength);
    this.lines++;
    this.skipped++;
  }

  /** An unfinished line grew past maxLength: returns true when it is to be skipped (else throws). */
  overgrown(offset: number): true {
    if (!this.skipOverflow) throw new LineTooLongError(this.next(offset), this.maxLength);
    this.skipped++;
    return true;
  }
}

/**
 * Written chunks as Buffers. A string chunk that ends with the first half of a surrogate pair keeps
 * it for the next string chunk, so a character cut between two string chunks is joined, as it is
 * between two Buffers.
 */
export class ChunkReader {
  readonly #where: string;
  #surrogate = '';

  constructor(where: string) {
    this.#where = where;
  }

  defer(chunk: unknown): boolean {
    return ((chunk as { length?: unknown }).length as number) >= DEFER_BYTES;
  }

  read(chunk: unknown): Buffer {
    if (typeof chunk === 'string') {
      let text = this.#surrogate === '' ? chunk : this.#surrogate + chunk;
      this.#surrogate = '';
      const last = text.charCodeAt(text.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        this.#surrogate = text.slice(-1);
        text = text.slice(0, -1);
      }
      return Buffer.from(text);
    }
    const held = this.flush();
    if (Buffer.isBuffer(chunk)) return held.length === 0 ? chunk : Buffer.concat([held, chunk]);
    if (chunk instanceof Uint8Array) {
      const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      return held.length === 0 ? buf : Buffer.concat([held, buf]);
    }
    throw new InvalidChunkError(this.#where, 'Buffer, Uint8Array or string', chunk === NULL_CHUNK ? null : chunk);
  }

  /** A half surrogate pair still held, as bytes (U+FFFD, as a lone surrogate encodes): at the end, or before a Buffer. */
  flush(): Buffer {
    if (this.#surrogate === '') return EMPTY;
    const bytes = Buffer.from(this.#surrogate);
    this.#surrogate = '';
    return bytes;
  }
}

/** What the two splitters share as the head of split()'s engine: their line count, their reader, and what split() reads of them. */
export abstract class SplitterHead {
  readonly located = true;
  readonly passesCheckpoints = false;
  protected readonly out: LineCounter;
  protected readonly reader: ChunkReader;

  constructor(out: LineCounter, reader: ChunkReader) {
    this.out = out;
    this.reader = reader;
  }

  get name(): string | undefined {
    return this.out.name;
  }

  get lines(): number {
    return this.out.lines;
  }

  get skipped(): number {
    return this.out.skipped;
  }

  defer(chunk: unknown): boolean {
    return this.reader.defer(chunk);
  }

  close(): void {}
}
