// Lines cut where a RegExp matches the decoded text.
import { isUtf8 } from 'node:buffer';
import { InvalidUtf8Error } from '../errors.js';
import { type ChunkReader, EMPTY, LineCounter, type LineSink, SplitterHead, type SplitterOptions } from './splitter.js';
import { completeEnd, firstInvalid } from './utf8.js';

/** How far back a RegExp match may begin before the newest text, in UTF-16 units. */
export const LOOKBACK = 1024;

/**
 * Cuts text into lines where `separator` matches. A match that reaches the end of the text read so
 * far waits for more input (so `/\n+/` sees every newline of a run); a match must be at most
 * {@link LOOKBACK} characters long; a match of the empty string is not a separator.
 *
 * State: the bytes of a character cut by a chunk's end (`#carry`), the text still searched
 * (`#window`, at most LOOKBACK units before new text) and older text of the unfinished line
 * (`#pieces`), with the byte offsets of each.
 */
export class RegExpSplitter extends SplitterHead {
  readonly #re: RegExp;
  #skipping = false;
  #offset: number;
  #carry: Buffer = EMPTY;
  #window = '';
  #windowOffset = 0;
  #lineOffset = 0;
  #pieces: string[] = [];
  #pieceBytes = 0;

  constructor(separator: RegExp, opts: SplitterOptions, sink: LineSink, reader: ChunkReader) {
    super(new LineCounter(opts, sink), reader);
    this.#offset = opts.firstOffset;
    this.#re = new RegExp(separator.source, `${separator.flags.replace(/[gy]/g, '')}g`);
  }

  write(input: unknown): void {
    this.#text(this.reader.read(input), false);
  }

  end(): void {
    this.#text(this.reader.flush(), true);
    if (this.#skipping) {
      this.#skipping = false;
      this.out.lines++;
    } else if (this.#window.length > 0 || this.#pieces.length > 0) {
      this.#textLine(this.#window, Buffer.byteLength(this.#window), this.#lineOffset);
    }
    this.#window = '';
  }

  #text(chunk: Buffer, final: boolean): void {
    let buf = chunk;
    let base = this.#offset;
    this.#offset = base + chunk.length;
    if (this.#carry.length > 0) {
      base -= this.#carry.length;
      buf = Buffer.concat([this.#carry, chunk]);
    }
    const end = final ? buf.length : completeEnd(buf, 0, buf.length);
    this.#carry = end < buf.length ? Buffer.from(buf.subarray(end)) : EMPTY;
    if (this.out.fatal && !isUtf8(buf.subarray(0, end))) {
      const bad = firstInvalid(buf, 0, end);
      // Lines before the bad byte are good; a match touching it cannot grow any more.
      this.#search(buf.toString('utf8', 0, bad), true);
      throw new InvalidUtf8Error(this.out.next(base + bad));
    }
    this.#search(buf.toString('utf8', 0, end), final);
  }

  /** Emits the lines ended in `#window + text`; `atEnd`: no more text follows. */
  #search(text: string, atEnd: boolean): void {
    const win = this.#window + text;
    const re = this.#re;
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
        this.out.lines++;
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
        if (this.#pieceBytes > this.out.maxLength) {
          this.#skipping = this.out.overgrown(lineOffset);
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
    if (bytes > this.out.maxLength) this.out.overflow(offset);
    else this.out.emit(text, offset);
  }
}
