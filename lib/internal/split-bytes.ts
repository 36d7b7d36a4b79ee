// Lines cut at a separator found in the raw bytes (split()'s default, and any string separator).
import { isAscii, isUtf8 } from 'node:buffer';
import { InvalidUtf8Error } from '../errors.js';
import { type ChunkReader, LineCounter, type LineSink, SplitterHead, type SplitterOptions } from './splitter.js';
import { AsciiScanner, completeEnd, firstInvalid } from './utf8.js';

/** Bytes decoded into one string (see #scan). */
const WINDOW = 32 * 1024;
const CRLF = Buffer.from('\r\n');

/** Whether a match of `sep` could overlap the previous one (as in "aa" within "aaa"). */
function selfOverlapping(sep: Buffer): boolean {
  for (let k = 1; k < sep.length; k++) if (sep.compare(sep, k, sep.length, 0, sep.length - k) === 0) return true;
  return false;
}

/**
 * Cuts bytes into lines at `separator` (unset: `\n`, with a `\r` before it dropped too). Separators
 * are found in the bytes, so a character or a separator cut between chunks is simply joined.
 *
 * Text is decoded as latin1 (a copy) and split as a string; only lines holding a non-ASCII byte are
 * decoded again as UTF-8, so one such character does not turn a whole chunk into a slow two-byte
 * string, as it does for splitters that decode chunks whole.
 */
export class ByteSplitter extends SplitterHead {
  /** The separator, its only byte when it has one, and as latin1 text. */
  readonly #sep: Buffer;
  readonly #sepByte: number;
  readonly #sepText: string;
  /** Default separator: drop a `\r` before the `\n`. */
  readonly #crlf: boolean;
  /** Whether separators can be found backwards (`lastIndexOf`) too: see selfOverlapping. */
  readonly #lastIndexOk: boolean;
  /** Dropping the rest of an overlong line until its separator arrives. */
  #skipping = false;
  /** Whether the last window of text scanned held a non-ASCII byte. */
  #wide = false;
  /** Byte offset of the next chunk in the input. */
  #offset: number;
  /** The unfinished line, as slices of the chunks it came in (joined once, when it ends). */
  #tail: Buffer[] = [];
  #tailLen = 0;
  #tailOffset = 0;

  constructor(separator: string | undefined, opts: SplitterOptions, sink: LineSink, reader: ChunkReader) {
    super(new LineCounter(opts, sink), reader);
    this.#offset = opts.firstOffset;
    this.#crlf = separator === undefined;
    this.#sep = Buffer.from(separator ?? '\n');
    this.#sepByte = this.#sep[0]!;
    this.#sepText = this.#sep.toString('latin1');
    this.#lastIndexOk = !selfOverlapping(this.#sep);
  }

  write(input: unknown): void {
    const chunk = this.reader.read(input);
    const base = this.#offset;
    this.#offset = base + chunk.length;
    let pos = 0;
    if (this.#tailLen > 0 || this.#skipping) {
      pos = this.#endTail(chunk, base);
      if (pos < 0) return;
    }
    if (pos < chunk.length) pos = this.#lastIndexOk ? this.#scan(chunk, pos, base) : this.#scanEach(chunk, pos, base);
    if (pos < chunk.length) this.#keep(chunk, pos, base);
  }

  end(): void {
    const held = this.reader.flush();
    if (held.length > 0) this.write(held);
    if (this.#skipping) {
      this.#skipping = false;
      this.out.lines++;
    } else if (this.#tailLen > 0) {
      const pieces = this.#tail;
      this.#line(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, this.#tailLen), this.#tailOffset);
    }
    this.#tail = [];
    this.#tailLen = 0;
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
      this.out.lines++;
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
    const out = this.out;
    if (line.length > out.maxLength) {
      out.overflow(offset);
      return;
    }
    if (out.fatal && !isUtf8(line)) throw new InvalidUtf8Error(out.next(offset + firstInvalid(line, 0, line.length)));
    out.emit(line.toString('utf8'), offset);
  }

  /**
   * Emits the lines of `chunk` from `pos` to its last separator; returns where the unfinished rest
   * starts. Text is decoded as latin1 WINDOW bytes at a time, so the string stays in V8's young
   * generation, and split there.
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
          if (this.out.fatal) bad = this.#firstBad(chunk, pos);
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
    const text = chunk.toString('latin1', pos, stop);
    const len = text.length;
    const sep = this.#sepText;
    const n = sep.length;
    const out = this.out;
    const max = out.maxLength;
    const crlf = this.#crlf;
    let p = 0;
    for (;;) {
      let e = text.indexOf(sep, p);
      if (e === -1) e = len;
      let end = e;
      if (crlf && end > p && text.charCodeAt(end - 1) === 13) end--;
      const s = pos + p;
      if (end - p > max) {
        out.overflow(base + s);
        if (bad < pos + e) bad = this.#firstBad(chunk, pos + e + n);
      } else {
        if (pos + e > bad) throw new InvalidUtf8Error(out.next(base + bad));
        // Lines before the next non-ASCII byte are right as latin1.
        out.emit(wide < end ? chunk.toString('utf8', s, pos + end) : text.slice(p, end), base + s);
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
    const out = this.out;
    let bad = out.fatal ? this.#firstBad(chunk, pos) : chunk.length;
    let p = pos;
    let e: number;
    while ((e = chunk.indexOf(sep, p)) !== -1) {
      if (e - p > out.maxLength) {
        out.overflow(base + p);
        if (bad < e) bad = this.#firstBad(chunk, e + n);
      } else {
        if (e > bad) throw new InvalidUtf8Error(out.next(base + bad));
        out.emit(chunk.toString('utf8', p, e), base + p);
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
    if (this.#tailLen > this.out.maxLength && !this.#mayEndAtMax()) {
      this.#skipping = this.out.overgrown(this.#tailOffset);
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
    const over = this.#tailLen - this.out.maxLength;
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
}
