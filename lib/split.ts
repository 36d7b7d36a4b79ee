import { isAscii, isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import { InvalidChunkError, InvalidUtf8Error, LineError, LineTooLongError } from './errors.js';
import { bindSignal, stageOptions, type StageOptions } from './internal/stage-options.js';
import type { TypedDuplex } from './internal/types.js';
import { AsciiScanner, completeEnd, firstInvalid } from './internal/utf8.js';
import * as check from './internal/validate.js';

/** What {@link split} accepts on its writable side. */
export type SplitChunk = string | Uint8Array;

/** Options for {@link split}. */
export interface SplitOptions<T = string> extends StageOptions {
  /**
   * What ends a line. A string (of any length) is searched for in the raw bytes. A RegExp is run on
   * the decoded text; a match that reaches the end of the text read so far waits for more input (so
   * `/\n+/` sees every newline of a run), a match must be at most 1024 characters long, and a match
   * of the empty string is not a separator. Unset: `\n`, and a `\r` just before it is dropped too.
   * @default "\n" (and "\r\n")
   */
  separator?: string | RegExp;
  /**
   * The longest line allowed, in BYTES of UTF-8 input, not counting its separator. A longer line
   * fails the stream with a {@link LineTooLongError} as soon as the unfinished line passes the limit,
   * without waiting for its end. The default is finite so that memory stays bounded whatever the
   * input: V8 cannot build a string above ~512 Mi characters anyway, and a file without newlines
   * would otherwise be buffered whole. With a RegExp separator, an unfinished line is judged
   * without its last 1024 characters (they may hold the start of a separator); a finished one exactly.
   * @default 67108864 (64 MiB)
   */
  maxLength?: number;
  /**
   * Drop lines longer than `maxLength` (up to the next separator) instead of failing; the bytes are
   * discarded as they arrive, so memory stays bounded by about `maxLength`. They are counted in
   * {@link Split.skipped}.
   * @default false
   */
  skipOverflow?: boolean;
  /**
   * Called on each line with its 1-based number; what it returns is passed on instead of the line.
   * `undefined` (or `null`, which a stream cannot carry) drops the line. An error it throws fails the
   * stream with a {@link LineError} naming the line, the original error as its `cause`.
   * @default undefined (lines are passed on as strings)
   */
  map?: (line: string, lineNumber: number) => T | undefined;
  /**
   * Fail with an {@link InvalidUtf8Error} (carrying the byte offset of the first invalid byte) on
   * input that is not valid UTF-8. Unset, each invalid sequence becomes U+FFFD, as `TextDecoder` does.
   * @default false
   */
  fatal?: boolean;
}

const WHERE = 'split()';
const DEFAULT_MAX_LENGTH = 64 * 1024 * 1024;
/** How far back a RegExp match may begin before the newest text, in UTF-16 units. */
const LOOKBACK = 1024;
/** Bytes decoded into one string (see #scan). */
const WINDOW = 32 * 1024;
/** Chunks from this size on are split on the next turn of the event loop (see _transform). */
const DEFER_BYTES = 16 * 1024;
const CRLF = Buffer.from('\r\n');
const EMPTY = Buffer.alloc(0);
/** Stands for a `null` chunk, which Writable would otherwise throw out of `write()`. */
const NULL_CHUNK: unique symbol = Symbol('null chunk');

// Buffer's own slice methods, which `toString` calls once it has checked its arguments. Called once
// per line, skipping that check shows in the benchmarks.
interface Slicer {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}
const latin1 = (buf: Buffer, start: number, end: number): string => (buf as unknown as Slicer).latin1Slice(start, end);
const utf8 = (buf: Buffer, start: number, end: number): string => (buf as unknown as Slicer).utf8Slice(start, end);

/** Whether a match of `sep` could overlap the previous one (as in "aa" within "aaa"). */
function selfOverlapping(sep: Buffer): boolean {
  for (let k = 1; k < sep.length; k++) if (sep.compare(sep, k, sep.length, 0, sep.length - k) === 0) return true;
  return false;
}

export interface Split<T = string> extends TypedDuplex<SplitChunk, T> {
  [Symbol.asyncIterator](): AsyncIterableIterator<T>;
  toArray(options?: { signal?: AbortSignal }): Promise<T[]>;
}

/**
 * The stream {@link split} returns: a Transform, object mode on both sides, taking Buffers,
 * Uint8Arrays and strings and giving one item per line.
 *
 * It finds separators in the raw bytes, so a character or a separator cut between chunks is simply
 * joined. Text is decoded as latin1 (a copy) and split as a string; only lines holding a non-ASCII
 * byte are decoded again as UTF-8, so one such character does not turn a whole chunk into a slow
 * two-byte string, as it does for splitters that decode chunks whole. A chunk of 16 KiB or more is
 * split on the next turn of the event loop, so that reading the next chunk overlaps the work.
 */
export class Split<T = string> extends Transform {
  readonly #maxLength: number;
  readonly #skipOverflow: boolean;
  readonly #fatal: boolean;
  readonly #map: ((line: string, lineNumber: number) => T | undefined) | undefined;
  /** Byte mode: the separator, its only byte when it has one, and as latin1 text. */
  readonly #sep: Buffer;
  readonly #sepByte: number;
  readonly #sepText: string;
  /** Default separator: drop a `\r` before the `\n`. */
  readonly #crlf: boolean;
  /** Whether separators can be found backwards (`lastIndexOf`) too: see selfOverlapping. */
  readonly #lastIndexOk: boolean;
  readonly #re: RegExp | undefined;

  #lines = 0;
  #skipped = 0;
  /** Dropping the rest of an overlong line until its separator arrives. */
  #skipping = false;
  /** Whether the last window of text scanned held a non-ASCII byte. */
  #wide = false;
  /** Byte offset of the next chunk in the input. */
  #offset = 0;
  /** The split of a big chunk, waiting for the next turn of the event loop. */
  #immediate: NodeJS.Immediate | undefined;

  // Byte mode: the unfinished line, as slices of the chunks it came in (joined once, when it ends).
  #tail: Buffer[] = [];
  #tailLen = 0;
  #tailOffset = 0;

  // RegExp mode: bytes of a character cut by the chunk's end, the text still searched (`#window`,
  // at most LOOKBACK units before new text), and older text of the unfinished line (`#pieces`).
  #carry: Buffer = EMPTY;
  #window = '';
  #windowOffset = 0;
  #lineOffset = 0;
  #pieces: string[] = [];
  #pieceBytes = 0;

  constructor(options?: SplitOptions<T>) {
    const opts = check.options(WHERE, options);
    const stage = stageOptions(WHERE, opts);
    const { separator } = opts;
    const separatorMust = 'a non-empty string or a RegExp';
    if (separator !== undefined && !(separator instanceof RegExp) && typeof separator !== 'string') {
      check.invalid(WHERE, 'options.separator', separatorMust, separator);
    }
    if (separator === '') throw new RangeError(`${WHERE}: options.separator must be ${separatorMust}, got ${check.describe('')}`);
    const maxLength = opts.maxLength === undefined ? DEFAULT_MAX_LENGTH : check.integer(WHERE, 'options.maxLength', opts.maxLength, 1);
    const skipOverflow = opts.skipOverflow === undefined ? false : check.boolean(WHERE, 'options.skipOverflow', opts.skipOverflow);
    const fatal = opts.fatal === undefined ? false : check.boolean(WHERE, 'options.fatal', opts.fatal);
    const mapper = opts.map === undefined ? undefined : check.func<(line: string, lineNumber: number) => T | undefined>(WHERE, 'options.map', opts.map);

    super({
      readableObjectMode: true,
      writableObjectMode: true,
      readableHighWaterMark: stage.readableHighWaterMark,
      writableHighWaterMark: stage.writableHighWaterMark,
    });
    this.#maxLength = maxLength;
    this.#skipOverflow = skipOverflow;
    this.#fatal = fatal;
    this.#map = mapper;
    this.#crlf = separator === undefined;
    this.#sep = Buffer.from(typeof separator === 'string' ? separator : '\n');
    this.#sepByte = this.#sep[0]!;
    this.#sepText = this.#sep.toString('latin1');
    this.#lastIndexOk = !selfOverlapping(this.#sep);
    this.#re = separator instanceof RegExp ? new RegExp(separator.source, `${separator.flags.replace(/[gy]/g, '')}g`) : undefined;
    bindSignal(this, stage.signal);
  }

  /** Lines read so far, including those dropped by `map` or skipped as too long. */
  get lines(): number {
    return this.#lines;
  }

  /** Lines dropped because they were longer than `maxLength` (with `skipOverflow: true`). */
  get skipped(): number {
    return this.#skipped;
  }

  // Writable throws on a null chunk; route it to the callback like any other chunk it cannot take.
  override write(chunk: unknown, encoding?: BufferEncoding | ((error: Error | null | undefined) => void), cb?: (error: Error | null | undefined) => void): boolean {
    return super.write(chunk === null ? NULL_CHUNK : chunk, encoding as BufferEncoding, cb);
  }

  override _transform(chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    let buf: Buffer;
    if (Buffer.isBuffer(chunk)) buf = chunk;
    else if (typeof chunk === 'string') buf = Buffer.from(chunk);
    else if (chunk instanceof Uint8Array) buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else {
      callback(new InvalidChunkError(WHERE, 'Buffer, Uint8Array or string', chunk === NULL_CHUNK ? null : chunk));
      return;
    }
    // A big chunk is split on the next turn of the event loop, once its source has started to read
    // the next one: a file read (in libuv's thread pool) then overlaps the splitting, about 15%
    // faster on two cores. Order is kept: Writable calls _transform again only after `callback`.
    if (buf.length >= DEFER_BYTES) {
      this.#immediate = setImmediate(() => {
        this.#immediate = undefined;
        this.#run(buf, callback);
      });
    } else this.#run(buf, callback);
  }

  #run(buf: Buffer, callback: TransformCallback): void {
    try {
      if (this.#re === undefined) this.#splitBytes(buf);
      else this.#splitText(buf, false);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    callback(err);
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.#re === undefined) this.#endBytes();
      else this.#endText();
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  #emit(line: string, offset: number): void {
    const n = ++this.#lines;
    const map = this.#map;
    if (map === undefined) {
      this.push(line);
      return;
    }
    let value: T | undefined;
    try {
      value = map(line, n);
    } catch (err) {
      throw new LineError({ line: n, offset }, err);
    }
    if (value !== undefined && value !== null) this.push(value);
  }

  /** A finished line longer than maxLength. */
  #overflow(offset: number): void {
    if (!this.#skipOverflow) throw new LineTooLongError({ line: this.#lines + 1, offset }, this.#maxLength);
    this.#lines++;
    this.#skipped++;
  }

  // ---- Byte mode -------------------------------------------------------------------------------

  #splitBytes(chunk: Buffer): void {
    const base = this.#offset;
    this.#offset = base + chunk.length;
    let pos = 0;
    if (this.#tailLen > 0 || this.#skipping) {
      pos = this.#endTail(chunk, base);
      if (pos < 0) return;
    }
    if (pos < chunk.length) {
      pos = this.#lastIndexOk ? this.#scan(chunk, pos, base) : this.#scanEach(chunk, pos, base);
    }
    if (pos < chunk.length) this.#keep(chunk, pos, base);
  }

  /**
   * Finishes the line begun in earlier chunks if `chunk` holds its separator; returns where the
   * next line starts, or -1 when the whole chunk belongs to the unfinished line.
   */
  #endTail(chunk: Buffer, base: number): number {
    const n = this.#sep.length;
    // A separator cut between the tail and this chunk: how many of its bytes are in the tail.
    const inTail = n > 1 && this.#tailLen > 0 ? this.#spanning(chunk) : 0;
    const e = inTail > 0 ? 0 : n === 1 ? chunk.indexOf(this.#sepByte) : chunk.indexOf(this.#sep);
    if (e === -1) {
      this.#keep(chunk, 0, base);
      return -1;
    }
    if (this.#skipping) {
      this.#skipping = false;
      this.#lines++;
    } else {
      const pieces = this.#tail;
      if (e > 0) pieces.push(chunk.subarray(0, e));
      const len = this.#tailLen + e - inTail;
      let line = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, this.#tailLen + e);
      let end = len;
      if (this.#crlf && end > 0 && line[end - 1] === 13) end--;
      if (end < line.length) line = line.subarray(0, end);
      this.#line(line, this.#tailOffset);
    }
    this.#tail = [];
    this.#tailLen = 0;
    return e + n - inTail;
  }

  /** Separator bytes at the end of the tail when the separator continues at the start of `chunk`. */
  #spanning(chunk: Buffer): number {
    const n = this.#sep.length;
    const k = Math.min(n - 1, this.#tailLen);
    const probe = Buffer.concat([this.#lastBytes(k), chunk.subarray(0, n - 1)]);
    const j = probe.indexOf(this.#sep);
    return j !== -1 && j < k ? k - j : 0;
  }

  /** A whole line that came in several chunks (or at the end of the input). */
  #line(line: Buffer, offset: number): void {
    if (line.length > this.#maxLength) return this.#overflow(offset);
    if (this.#fatal && !isUtf8(line)) {
      throw new InvalidUtf8Error({ line: this.#lines + 1, offset: offset + firstInvalid(line, 0, line.length) });
    }
    this.#emit(utf8(line, 0, line.length), offset);
  }

  /**
   * Emits the lines of `chunk` from `pos` to its last separator; returns where the unfinished rest
   * starts. Text is decoded as latin1 (a plain copy, right for every ASCII byte), WINDOW bytes at a
   * time so the string stays in V8's young generation, and split there. Only a line that holds a
   * non-ASCII byte is decoded again, as UTF-8, from the bytes: one non-ASCII character costs its line,
   * where decoding a whole chunk as UTF-8 would make all of it a slow two-byte string.
   */
  #scan(chunk: Buffer, pos: number, base: number): number {
    const sep = this.#sep;
    const n = sep.length;
    let bad = chunk.length;
    let scanner: AsciiScanner | undefined;
    for (;;) {
      let stop = n === 1 ? chunk.lastIndexOf(this.#sepByte, pos + WINDOW) : chunk.lastIndexOf(sep, pos + WINDOW);
      if (stop < pos) stop = n === 1 ? chunk.indexOf(this.#sepByte, pos) : chunk.indexOf(sep, pos);
      if (stop === -1) return pos;
      // isAscii answers for a whole window at twice the scanner's speed; worth asking only while the
      // input has been ASCII, as a window of mixed text almost never is.
      let wide = stop;
      if (this.#wide || !isAscii(chunk.subarray(pos, stop))) {
        if (scanner === undefined) {
          scanner = new AsciiScanner(chunk);
          if (this.#fatal) bad = this.#firstBad(chunk, pos);
        }
        wide = scanner.next(pos, stop);
        this.#wide = wide < stop;
      }
      bad = this.#scanWindow(chunk, pos, stop, base, scanner, wide - pos, bad);
      pos = stop + n;
    }
  }

  /**
   * The lines of `chunk[pos, stop)`, which ends with a whole line. `wide` is where the first
   * non-ASCII byte is, relative to `pos` (`stop - pos` if none), `scanner` finds the next ones; `bad`
   * is the first invalid byte (fatal mode), returned updated.
   */
  #scanWindow(chunk: Buffer, pos: number, stop: number, base: number, scanner: AsciiScanner | undefined, wide: number, bad: number): number {
    const text = latin1(chunk, pos, stop);
    const len = text.length;
    const sep = this.#sepText;
    const n = sep.length;
    const max = this.#maxLength;
    const crlf = this.#crlf;
    let p = 0;
    for (;;) {
      let e = text.indexOf(sep, p);
      if (e === -1) e = len;
      let end = e;
      if (crlf && end > p && text.charCodeAt(end - 1) === 13) end--;
      const s = pos + p;
      if (end - p > max) {
        this.#overflow(base + s);
        if (bad < pos + e) bad = this.#firstBad(chunk, pos + e + n);
      } else {
        if (pos + e > bad) throw new InvalidUtf8Error({ line: this.#lines + 1, offset: base + bad });
        // Lines before the next non-ASCII byte are right as latin1.
        this.#emit(wide < end ? utf8(chunk, s, pos + end) : text.slice(p, end), base + s);
      }
      if (e === len) return bad;
      p = e + n;
      if (wide < p) wide = scanner!.next(pos + p, stop) - pos;
    }
  }

  /** Like #scan, for a separator whose matches may overlap: one line at a time, found in the bytes. */
  #scanEach(chunk: Buffer, pos: number, base: number): number {
    const sep = this.#sep;
    const n = sep.length;
    const max = this.#maxLength;
    let bad = this.#fatal ? this.#firstBad(chunk, pos) : chunk.length;
    let p = pos;
    let e: number;
    while ((e = chunk.indexOf(sep, p)) !== -1) {
      if (e - p > max) {
        this.#overflow(base + p);
        if (bad < e) bad = this.#firstBad(chunk, e + n);
      } else {
        if (e > bad) throw new InvalidUtf8Error({ line: this.#lines + 1, offset: base + bad });
        this.#emit(utf8(chunk, p, e), base + p);
      }
      p = e + n;
    }
    return p;
  }

  /**
   * The first invalid byte of `chunk` from `pos`, or `chunk.length` (a character cut by the chunk's
   * end is not invalid yet).
   */
  #firstBad(chunk: Buffer, pos: number): number {
    const end = completeEnd(chunk, pos, chunk.length);
    return isUtf8(chunk.subarray(pos, end)) ? chunk.length : firstInvalid(chunk, pos, end);
  }

  /** Keeps `chunk[pos..]` as the start of an unfinished line (or drops it, when skipping one). */
  #keep(chunk: Buffer, pos: number, base: number): void {
    if (this.#tailLen === 0) this.#tailOffset = base + pos;
    this.#tail.push(pos === 0 ? chunk : chunk.subarray(pos));
    this.#tailLen += chunk.length - pos;
    if (this.#skipping) {
      this.#dropTail();
      return;
    }
    if (this.#tailLen > this.#maxLength && !this.#mayEndAtMax()) {
      if (!this.#skipOverflow) throw new LineTooLongError({ line: this.#lines + 1, offset: this.#tailOffset }, this.#maxLength);
      this.#skipped++;
      this.#skipping = true;
      this.#dropTail();
    }
  }

  /** While skipping, keep only what may be the start of a separator cut by the chunk's end. */
  #dropTail(): void {
    const keep = Math.min(this.#sep.length - 1, this.#tailLen);
    this.#tail = keep > 0 ? [this.#lastBytes(keep)] : [];
    this.#tailLen = keep;
  }

  /** Whether the bytes past maxLength in the tail could be the start of the separator. */
  #mayEndAtMax(): boolean {
    const ending = this.#crlf ? CRLF : this.#sep;
    const over = this.#tailLen - this.#maxLength;
    return over < ending.length && this.#lastBytes(over).equals(ending.subarray(0, over));
  }

  /** A copy of the last `k` bytes of the tail. */
  #lastBytes(k: number): Buffer {
    const out = Buffer.allocUnsafe(k);
    let j = k;
    for (let i = this.#tail.length - 1; i >= 0 && j > 0; i--) {
      const piece = this.#tail[i]!;
      const take = Math.min(j, piece.length);
      piece.copy(out, j - take, piece.length - take);
      j -= take;
    }
    return out;
  }

  #endBytes(): void {
    if (this.#skipping) {
      this.#skipping = false;
      this.#lines++;
    } else if (this.#tailLen > 0) {
      const pieces = this.#tail;
      this.#line(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, this.#tailLen), this.#tailOffset);
    }
    this.#tail = [];
    this.#tailLen = 0;
  }

  // ---- RegExp mode -----------------------------------------------------------------------------

  #splitText(chunk: Buffer, final: boolean): void {
    let buf = chunk;
    let base = this.#offset;
    this.#offset = base + chunk.length;
    if (this.#carry.length > 0) {
      base -= this.#carry.length;
      buf = Buffer.concat([this.#carry, chunk]);
    }
    const end = final ? buf.length : completeEnd(buf, 0, buf.length);
    this.#carry = end < buf.length ? Buffer.from(buf.subarray(end)) : EMPTY;
    if (this.#fatal && !isUtf8(buf.subarray(0, end))) {
      const bad = firstInvalid(buf, 0, end);
      // Lines before the bad byte are good; a match touching it cannot grow any more.
      this.#search(utf8(buf, 0, bad), true);
      throw new InvalidUtf8Error({ line: this.#lines + 1, offset: base + bad });
    }
    this.#search(utf8(buf, 0, end), final);
  }

  /** Emits the lines ended in `#window + text`; `atEnd`: no more text follows. */
  #search(text: string, atEnd: boolean): void {
    const win = this.#window + text;
    const re = this.#re!;
    let pos = 0;
    let posOffset = this.#windowOffset;
    let lineOffset = this.#lineOffset;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(win)) !== null) {
      const len = m[0].length;
      if (len === 0) {
        re.lastIndex = m.index + 1;
        continue;
      }
      const end = m.index + len;
      if (end === win.length && !atEnd) break;
      const line = win.slice(pos, m.index);
      const lineBytes = Buffer.byteLength(line);
      if (this.#skipping) {
        this.#skipping = false;
        this.#lines++;
      } else this.#textLine(line, lineBytes, lineOffset);
      posOffset += lineBytes + Buffer.byteLength(m[0]);
      lineOffset = posOffset;
      pos = end;
    }
    let rest = pos === 0 ? win : win.slice(pos);
    // Text more than LOOKBACK back can no longer begin a separator: move it out of the window.
    if (rest.length > LOOKBACK) {
      let cut = rest.length - LOOKBACK;
      if ((rest.charCodeAt(cut) & 0xfc00) === 0xdc00) cut--; // keep a surrogate pair together
      const head = rest.slice(0, cut);
      const headBytes = Buffer.byteLength(head);
      rest = rest.slice(cut);
      posOffset += headBytes;
      if (!this.#skipping) {
        this.#pieces.push(head);
        this.#pieceBytes += headBytes;
        if (this.#pieceBytes > this.#maxLength) {
          if (!this.#skipOverflow) throw new LineTooLongError({ line: this.#lines + 1, offset: lineOffset }, this.#maxLength);
          this.#skipped++;
          this.#skipping = true;
          this.#pieces = [];
          this.#pieceBytes = 0;
        }
      }
    }
    this.#window = rest;
    this.#windowOffset = posOffset;
    this.#lineOffset = lineOffset;
  }

  /** A line ended in the window; `line` is its part in the window, older parts are in #pieces. */
  #textLine(line: string, bytes: number, offset: number): void {
    let text = line;
    if (this.#pieces.length > 0) {
      text = this.#pieces.join('') + line;
      bytes += this.#pieceBytes;
      this.#pieces = [];
      this.#pieceBytes = 0;
    }
    if (bytes > this.#maxLength) this.#overflow(offset);
    else this.#emit(text, offset);
  }

  #endText(): void {
    this.#splitText(EMPTY, true);
    if (this.#skipping) {
      this.#skipping = false;
      this.#lines++;
    } else if (this.#window.length > 0 || this.#pieces.length > 0) {
      this.#textLine(this.#window, Buffer.byteLength(this.#window), this.#lineOffset);
    }
    this.#window = '';
  }
}

/**
 * Splits bytes (or strings) into lines: one string per line out, in object mode — or, with `map`,
 * one item per line.
 *
 * The last line is emitted even without a separator after it; an empty string after a final
 * separator is not. Separators are found in the raw bytes, so a UTF-8 character or a separator cut
 * between chunks is joined correctly. Invalid UTF-8 becomes U+FFFD unless `fatal` is set.
 *
 * On error the stream is destroyed with a {@link SluiceError}: {@link LineTooLongError} (as soon as
 * an unfinished line passes `maxLength`), {@link InvalidUtf8Error} (`fatal`), {@link LineError}
 * (`map` threw), {@link InvalidChunkError} (a chunk that is not a Buffer, Uint8Array or string; an
 * `'error'` event, never an exception out of `write()`). The first three name the line (1-based)
 * and the byte offset where it starts (where the bad byte is, for invalid UTF-8); with a RegExp
 * separator, offsets count the decoded text, so they differ after invalid bytes replaced by U+FFFD.
 * Lines before the failing one have been passed on. Aborting `options.signal` destroys the stream
 * with the signal's reason; destroying it drops whatever it had not split yet.
 *
 * @typeParam T What `map` returns for a line; `string` without `map`.
 * @param options Separator, limits, mapper and buffering; see {@link SplitOptions}.
 * @returns A {@link Split} stream; its `lines` and `skipped` count what it has read.
 * @throws {TypeError} When an option has the wrong type.
 * @throws {RangeError} When `maxLength` is not an integer >= 1, or `separator` is empty.
 *
 * @example Lines of a CRLF log, cut anywhere
 * ```ts
 * import { split } from 'sluice';
 * const lines = split();
 * const bytes = Buffer.from('GET /café 200\r\nPOST /\n\nlast');
 * lines.write(bytes.subarray(0, 9)); // ends inside "é"
 * lines.end(bytes.subarray(9));
 * assert.deepEqual(await lines.toArray(), ['GET /café 200', 'POST /', '', 'last']);
 * ```
 *
 * @example Parse NDJSON, dropping blank lines
 * ```ts
 * import { Readable } from 'node:stream';
 * import { split } from 'sluice';
 * const records = Readable.from(['{"id":1}\n\n{"id"', ':2}\n']).pipe(
 *   split({ map: (line) => (line === '' ? undefined : (JSON.parse(line) as { id: number })) }),
 * );
 * assert.deepEqual(await records.toArray(), [{ id: 1 }, { id: 2 }]);
 * ```
 *
 * @example Skip lines that are too long, or fail on them
 * ```ts
 * import { split } from 'sluice';
 * const lenient = split({ maxLength: 8, skipOverflow: true });
 * lenient.end('short\nfar too long for the limit\nok\n');
 * assert.deepEqual(await lenient.toArray(), ['short', 'ok']);
 * assert.equal(lenient.skipped, 1);
 *
 * const strict = split({ maxLength: 8 });
 * strict.end('short\nfar too long for the limit\nok\n');
 * await assert.rejects(strict.toArray(), { code: 'ERR_SLUICE_LINE_TOO_LONG', line: 2, offset: 6 });
 * ```
 */
export function split<T = string>(options?: SplitOptions<T>): Split<T> {
  return new Split<T>(options);
}
