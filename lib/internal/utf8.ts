// UTF-8 helpers for split(). Checking validity is left to `buffer.isUtf8` (SIMD, fast); these only
// run where it cannot answer: where a chunk may end inside a character, and where exactly the first
// invalid byte is once `isUtf8` has said there is one.

/**
 * The end of the last complete character in `buf[start, end)`: when the bytes end with the lead byte
 * of a character whose continuation bytes have not arrived yet, the index of that lead byte; else `end`.
 * Cutting there is safe: a lead byte always ends whatever sequence came before it, so decoding the two
 * parts separately gives the same text as decoding them together.
 */
export function completeEnd(buf: Uint8Array, start: number, end: number): number {
  // A character is at most 4 bytes, so an unfinished one starts within the last 3.
  for (let i = end - 1; i >= start && i >= end - 3; i--) {
    const b = buf[i]!;
    if (b < 0x80) return end;
    if (b >= 0xc0) return end - i < (b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2) ? i : end;
  }
  return end;
}

/**
 * The index of the first byte in `buf[start, end)` that does not begin a well-formed UTF-8 sequence
 * (Unicode table 3-7; a sequence cut off by `end` counts as ill-formed), or -1 when there is none.
 */
export function firstInvalid(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b === 0xe0)
        lo = 0xa0; // overlong
      else if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b === 0xf0)
        lo = 0x90; // overlong
      else if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    if (i + n >= end) return i;
    const c = buf[i + 1]!;
    if (c < lo || c > hi) return i;
    for (let k = 2; k <= n; k++) if ((buf[i + k]! & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return -1;
}

/**
 * Finds non-ASCII bytes in a Buffer 32 bytes per step, through an Int32Array over the same memory:
 * several GB/s, where asking `isAscii` about each line (or each small batch of lines) costs a native
 * call and a subarray apiece.
 */
export class AsciiScanner {
  readonly #buf: Uint8Array;
  readonly #words: Int32Array;
  /** Index in #buf of #words[0] (the first 4-byte-aligned byte). */
  readonly #base: number;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
    const base = (4 - (buf.byteOffset & 3)) & 3;
    this.#base = base;
    this.#words = base < buf.length ? new Int32Array(buf.buffer, buf.byteOffset + base, Math.floor((buf.length - base) / 4)) : new Int32Array(0);
  }

  /** The index of the first byte >= 0x80 in `buf[from, to)`, or `to` when there is none. */
  next(from: number, to: number): number {
    const buf = this.#buf;
    let i = from;
    while (i < to && ((i - this.#base) & 3) !== 0) {
      if (buf[i]! >= 0x80) return i;
      i++;
    }
    if (i < to) {
      // Aligned: whole words up to `to`, eight per test, then one at a time.
      const words = this.#words;
      let w = (i - this.#base) / 4;
      const end = Math.floor((to - this.#base) / 4);
      while (
        w + 8 <= end &&
        ((words[w]! | words[w + 1]! | words[w + 2]! | words[w + 3]! | words[w + 4]! | words[w + 5]! | words[w + 6]! | words[w + 7]!) & 0x80808080) === 0
      ) {
        w += 8;
      }
      while (w < end && (words[w]! & 0x80808080) === 0) w++;
      i = this.#base + w * 4;
    }
    for (; i < to; i++) if (buf[i]! >= 0x80) return i;
    return to;
  }
}
