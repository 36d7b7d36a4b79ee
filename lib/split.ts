import { Engine, type Head } from './internal/engine.js';
import { ByteSplitter } from './internal/split-bytes.js';
import { RegExpSplitter } from './internal/split-regexp.js';
import { ChunkReader, NULL_CHUNK, type SplitterOptions } from './internal/splitter.js';
import { stageOptions, type StageOptions } from './internal/stage-options.js';
import type { StageContext } from './internal/steps.js';
import type { itemTypes, TypedDuplex } from './internal/types.js';
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
  /**
   * The input's name (a file path, say), given to the errors this stage raises as their `file`, so
   * their message reads `access.log:17: …`.
   * @default undefined
   */
  name?: string;
  /**
   * The number of the first line, for input that starts in the middle of a file (a part of it read
   * elsewhere): line numbers in errors and `ctx.line` count from it.
   * @default 1
   */
  firstLine?: number;
  /** The byte offset of the first byte, for such input: offsets in errors count from it. @default 0 */
  firstOffset?: number;
}

const WHERE = 'split()';
const DEFAULT_MAX_LENGTH = 64 * 1024 * 1024;
/** Never used: only the default that makes the wrapper below declare one parameter (see the engine's shared context). */
const UNUSED: StageContext = { signal: AbortSignal.abort(), index: 0 };

/**
 * The stream {@link split} returns: object mode on both sides, taking Buffers, Uint8Arrays and
 * strings and giving one item per line. It runs sluice's engine with the lines as its items, so
 * functions fused into it (`map`, or `chain([split(), …fns])`) run per line, sync or async, and
 * their errors name the line.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface merged below only narrows two inherited methods' types.
export class Split<T = string> extends Engine implements TypedDuplex<SplitChunk, T> {
  declare readonly [itemTypes]?: { in: (value: SplitChunk) => void; out: T };
  readonly #splitter: ByteSplitter | RegExpSplitter;

  constructor(options?: SplitOptions<T>) {
    const opts = check.options(WHERE, options, 'options', [
      ...check.STAGE_KEYS,
      'separator',
      'maxLength',
      'skipOverflow',
      'map',
      'fatal',
      'name',
      'firstLine',
      'firstOffset',
    ]);
    const stage = stageOptions(WHERE, opts);
    const { separator } = opts;
    const separatorMust = 'a non-empty string or a RegExp';
    if (separator !== undefined && !(separator instanceof RegExp) && typeof separator !== 'string') {
      check.invalid(WHERE, 'options.separator', separatorMust, separator);
    }
    if (separator === '') throw new RangeError(`${WHERE}: options.separator must be ${separatorMust}, got ${check.describe('')}`);
    const settings: SplitterOptions = {
      maxLength: opts.maxLength === undefined ? DEFAULT_MAX_LENGTH : check.integer(WHERE, 'options.maxLength', opts.maxLength, 1),
      skipOverflow: opts.skipOverflow === undefined ? false : check.boolean(WHERE, 'options.skipOverflow', opts.skipOverflow),
      fatal: opts.fatal === undefined ? false : check.boolean(WHERE, 'options.fatal', opts.fatal),
      name: opts.name === undefined ? undefined : check.string(WHERE, 'options.name', opts.name),
      firstLine: opts.firstLine === undefined ? 1 : check.integer(WHERE, 'options.firstLine', opts.firstLine, 1),
      firstOffset: opts.firstOffset === undefined ? 0 : check.integer(WHERE, 'options.firstOffset', opts.firstOffset, 0),
    };
    const map = opts.map === undefined ? undefined : check.func<(line: string, lineNumber: number) => unknown>(WHERE, 'options.map', opts.map);
    const steps = map === undefined ? [] : [{ kind: 'map' as const, fn: (line: unknown, ctx = UNUSED) => map(line as string, ctx.line!) }];
    let splitter: ByteSplitter | RegExpSplitter | undefined;
    super(steps, {
      ...stage,
      name: settings.name === undefined ? 'split' : `split(${settings.name})`,
      head: (line) => {
        const reader = new ChunkReader(WHERE);
        splitter = separator instanceof RegExp ? new RegExpSplitter(separator, settings, line, reader) : new ByteSplitter(separator, settings, line, reader);
        return splitter satisfies Head;
      },
    });
    this.#splitter = splitter!;
  }

  /** Lines read so far, including those dropped by `map` or skipped as too long. */
  get lines(): number {
    return this.#splitter.lines;
  }

  /**
   * Lines dropped because they were longer than `maxLength` (with `skipOverflow: true`) or because a
   * function fused into this split failed on them (with `onError: 'skip'`, see `chain()`).
   */
  override get skipped(): number {
    return this.#splitter.skipped + super.skipped;
  }

  // Writable throws on a null chunk; route it to the callback like any other chunk it cannot take.
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | ((error: Error | null | undefined) => void),
    cb?: (error: Error | null | undefined) => void,
  ): boolean {
    return super.write(chunk === null ? NULL_CHUNK : chunk, encoding as BufferEncoding, cb);
  }
}

/** The async iterator the installed @types/node gives a Readable, its results typed by the items. */
type ItemIterator<T> = Omit<ReturnType<Engine[typeof Symbol.asyncIterator]>, 'next' | 'return' | 'throw' | typeof Symbol.asyncIterator> & {
  next(): Promise<IteratorResult<T, undefined>>;
  return(): Promise<IteratorResult<T, undefined>>;
  throw(error?: unknown): Promise<IteratorResult<T, undefined>>;
  [Symbol.asyncIterator](): ItemIterator<T>;
};

// Merged into the class: `for await` and `toArray()` give the items rather than Readable's `any`. Built
// from the base's own iterator type, so it stays compatible with whichever @types/node and lib the user
// has (a plain `AsyncIterableIterator<T>` lacks the `[Symbol.asyncDispose]` that @types/node requires).
export interface Split<T> {
  [Symbol.asyncIterator](): ItemIterator<T>;
  toArray(options?: { signal?: AbortSignal }): Promise<T[]>;
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
 * @param options Separator, limits, mapper and buffering; see {@link SplitOptions}. As split2 takes
 *   them, the separator and the mapper may also come first: `split(';')`, `split(/;\s+/, fn, options)`.
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
export function split<T = string>(options?: SplitOptions<T>): Split<T>;
export function split<T = string>(separator: string | RegExp, options?: SplitOptions<T>): Split<T>;
export function split<T = string>(separator: string | RegExp, map: (line: string, lineNumber: number) => T | undefined, options?: SplitOptions<T>): Split<T>;
export function split<T = string>(map: (line: string, lineNumber: number) => T | undefined, options?: SplitOptions<T>): Split<T>;
export function split<T = string>(...args: unknown[]): Split<T> {
  return new Split<T>(positional<T>(args));
}

/** split2's arguments, `(separator?, map?, options?)`, as one options object. */
function positional<T>(args: readonly unknown[]): SplitOptions<T> | undefined {
  const rest = [...args];
  const separator = typeof rest[0] === 'string' || rest[0] instanceof RegExp ? rest.shift() : undefined;
  const map = typeof rest[0] === 'function' ? rest.shift() : undefined;
  if (rest.length > 1) check.invalid(WHERE, 'its arguments', '(separator?, map?, options?)', args);
  const options = rest[0] as SplitOptions<T> | undefined;
  if (separator === undefined && map === undefined) return options;
  const opts = check.options(WHERE, options);
  for (const [name, value] of [
    ['separator', separator],
    ['map', map],
  ] as const) {
    if (value !== undefined && opts[name] !== undefined) throw new TypeError(`${WHERE}: the ${name} is given twice, as an argument and as options.${name}`);
  }
  return {
    ...opts,
    ...(separator === undefined ? {} : { separator: separator as string | RegExp }),
    ...(map === undefined ? {} : { map: map as SplitOptions<T>['map'] }),
  } as SplitOptions<T>;
}
