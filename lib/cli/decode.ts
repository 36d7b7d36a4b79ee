// What an input's bytes are before they are lines: gzip (by its magic bytes) is decompressed, a UTF-8
// BOM is dropped, binary input (a NUL byte near the start, as grep judges it) is refused unless
// --text, and the line ending (LF or CRLF) and whether the input ends with one are noted, so that
// the output can keep them.
import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import { RunError } from './errors.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Bytes looked at for a NUL before the input is taken as text. */
const SNIFF = 8 * 1024;

/** The line ending an input uses, and whether its last line has one. */
export interface Endings {
  /** `\r\n` when the first line ends so, else `\n`. */
  newline: string;
  /** The input's last byte is a `\n` (or the input is empty). */
  finalNewline: boolean;
}

/** Whether `source` starts with gzip's magic bytes; what was read to tell is put back. */
export async function isGzip(source: Readable): Promise<boolean> {
  let head = Buffer.alloc(0);
  while (head.length < 2 && !source.readableEnded) {
    const chunk = source.read() as Buffer | null;
    if (chunk !== null) head = Buffer.concat([head, chunk]);
    else await readableOrEnd(source);
  }
  if (head.length > 0) source.unshift(head);
  return head[0] === 0x1f && head[1] === 0x8b;
}

/** Resolves on the next 'readable' or 'end', rejects on 'error'; removes its listeners either way. */
function readableOrEnd(source: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      source.off('readable', ok).off('end', ok).off('error', done);
      if (error === undefined) resolve();
      else reject(error);
    };
    const ok = (): void => done();
    source.on('readable', ok).on('end', ok).on('error', done);
  });
}

/** A zlib error as `FILE: cannot decompress: …`. */
export function gzipError(label: string, err: unknown): RunError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_') ? new RunError(`${label}: cannot decompress: ${(err as Error).message}`) : undefined;
}

/** Text bytes: a BOM dropped at the start, binary input refused, the endings noted in `endings`. */
export class TextBytes extends Transform {
  readonly endings: Endings = { newline: '\n', finalNewline: true };
  readonly #label: string;
  readonly #binaryOk: boolean;
  #seen = 0;
  #sawNewline = false;
  #lastByte = -1;
  /** The first bytes, held until there are enough to tell a BOM. */
  #head: Buffer | undefined = Buffer.alloc(0);

  constructor(label: string, binaryOk: boolean) {
    super({ highWaterMark: 1024 * 1024 });
    this.#label = label;
    this.#binaryOk = binaryOk;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#head !== undefined) {
      const head = this.#head.length === 0 ? chunk : Buffer.concat([this.#head, chunk]);
      // Held only while it may still be a BOM: `a\n` from a slow pipe goes on at once.
      if (head.length < 3 && BOM.subarray(0, head.length).equals(head)) {
        this.#head = head;
        callback();
        return;
      }
      this.#head = undefined;
      chunk = head.subarray(0, 3).equals(BOM) ? head.subarray(3) : head;
    }
    callback(this.#check(chunk), chunk.length > 0 ? chunk : undefined);
  }

  override _flush(callback: TransformCallback): void {
    const head = this.#head;
    this.#head = undefined;
    if (head === undefined || head.length === 0) callback();
    else callback(this.#check(head), head);
  }

  #check(text: Buffer): RunError | null {
    if (text.length === 0) return null;
    if (!this.#binaryOk && this.#seen < SNIFF) {
      const nul = text.subarray(0, SNIFF - this.#seen).indexOf(0);
      if (nul !== -1) return new RunError(`${this.#label}: binary input (a NUL byte at offset ${this.#seen + nul}); use --text to read it as text anyway`);
    }
    if (!this.#sawNewline) {
      const nl = text.indexOf(0x0a);
      if (nl !== -1) {
        this.#sawNewline = true;
        if ((nl > 0 ? text[nl - 1] : this.#lastByte) === 0x0d) this.endings.newline = '\r\n';
      }
    }
    this.#lastByte = text[text.length - 1]!;
    this.endings.finalNewline = this.#lastByte === 0x0a;
    this.#seen += text.length;
    return null;
  }
}
