/**
 * Errors that sluice raises at run time. Every one is a {@link SluiceError} with a stable `code`;
 * errors thrown by users' functions are never wrapped unless sluice has to add where they happened
 * (a line number), and then the original is the `cause`.
 *
 * @module
 */

/** Every `code` a {@link SluiceError} can have: stable, to branch on. */
export type SluiceErrorCode =
  | 'ERR_SLUICE_LINE_TOO_LONG'
  | 'ERR_SLUICE_INVALID_UTF8'
  | 'ERR_SLUICE_LINE'
  | 'ERR_SLUICE_TIMEOUT'
  | 'ERR_SLUICE_INVALID_CHUNK'
  | 'ERR_SLUICE_SHUTDOWN'
  | 'ERR_SLUICE_CLOSED_EARLY'
  | 'ERR_SLUICE_LEAK'
  | 'ERR_SLUICE_WORKER'
  | 'ERR_SLUICE_WORKER_EXIT'
  | 'ERR_SLUICE_BUFFER_OVERFLOW'
  | 'ERR_SLUICE_REDIS'
  | 'ERR_SLUICE_REDIS_UNAVAILABLE';

/** Marks sluice's errors, so that one that must also be a TypeError (InvalidChunkError) is a SluiceError too. */
const SLUICE: unique symbol = Symbol.for('sluice.error');

/** Options accepted by every {@link SluiceError} constructor. */
export interface SluiceErrorOptions {
  /** The error this one wraps, if any. */
  cause?: unknown;
}

/**
 * Base class of every error sluice raises itself.
 *
 * @example Branch on the stable code
 * ```ts
 * import { SluiceError, TimeoutError } from 'sluice';
 * const err: unknown = new TimeoutError('pipeline()', 50);
 * assert.ok(err instanceof SluiceError);
 * assert.equal((err as SluiceError).code, 'ERR_SLUICE_TIMEOUT');
 * ```
 */
export class SluiceError extends Error {
  /** A stable string to branch on, e.g. `ERR_SLUICE_TIMEOUT`. */
  readonly code: SluiceErrorCode;

  constructor(code: SluiceErrorCode, message: string, options?: SluiceErrorOptions) {
    super(message, options);
    this.code = code;
    brand(this);
  }

  override get name(): string {
    return this.constructor.name;
  }

  /** `instanceof SluiceError` holds for every error sluice raises, `InvalidChunkError` (a `TypeError`) included. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass asked about (x instanceof TimeoutError), not SluiceError.
    if (this !== SluiceError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && Object.hasOwn(value, SLUICE);
  }
}

function brand(error: Error): void {
  Object.defineProperty(error, SLUICE, { value: true });
}

/** Where in the input an error happened. */
export interface InputPosition {
  /** 1-based line number. */
  line: number;
  /** Byte offset of the start of that line in the input (0-based). */
  offset: number;
  /** The input's name, when known (split's `name`). */
  file?: string;
}

function where(pos: InputPosition): string {
  return pos.file === undefined ? `line ${pos.line}` : `${pos.file}:${pos.line}`;
}

/** A line grew past `maxLength` bytes. Raised as soon as the unfinished line passes the limit. */
export class LineTooLongError extends SluiceError {
  readonly line: number;
  readonly offset: number;
  readonly maxLength: number;
  /** The input's name, when split() was given one. */
  readonly file?: string;

  constructor(pos: InputPosition, maxLength: number) {
    super('ERR_SLUICE_LINE_TOO_LONG', `${where(pos)} (byte offset ${pos.offset}) is longer than maxLength (${maxLength} bytes)`);
    this.line = pos.line;
    this.offset = pos.offset;
    this.maxLength = maxLength;
    if (pos.file !== undefined) this.file = pos.file;
  }
}

/** The input is not valid UTF-8 and `fatal: true` was asked for. `offset` is the bad byte's. */
export class InvalidUtf8Error extends SluiceError {
  readonly line: number;
  readonly offset: number;
  /** The input's name, when split() was given one. */
  readonly file?: string;

  constructor(pos: InputPosition) {
    super('ERR_SLUICE_INVALID_UTF8', `${where(pos)}: invalid UTF-8 at byte offset ${pos.offset}`);
    this.line = pos.line;
    this.offset = pos.offset;
    if (pos.file !== undefined) this.file = pos.file;
  }
}

/**
 * A per-line function (split's `map`, a CLI expression) failed on one line. The original error is
 * `cause`; the message names the line.
 */
export class LineError extends SluiceError {
  readonly line: number;
  readonly offset: number;
  /** The input's name, when split() was given one. */
  readonly file?: string;

  constructor(pos: InputPosition, cause: unknown) {
    super('ERR_SLUICE_LINE', `${where(pos)}: ${describeCause(cause)}`, { cause });
    this.line = pos.line;
    this.offset = pos.offset;
    if (pos.file !== undefined) this.file = pos.file;
  }
}

/** A `timeout` option ran out. */
export class TimeoutError extends SluiceError {
  /** The limit that ran out, in milliseconds. */
  readonly timeout: number;

  constructor(what: string, timeout: number) {
    super('ERR_SLUICE_TIMEOUT', `${what} timed out after ${timeout} ms`);
    this.timeout = timeout;
  }
}

/**
 * A chunk of a type the stage cannot handle was written to it (e.g. a number into `split()`). A
 * `TypeError`, as Node's `ERR_INVALID_ARG_TYPE` is, and a {@link SluiceError} (`instanceof` holds).
 */
export class InvalidChunkError extends TypeError {
  readonly code = 'ERR_SLUICE_INVALID_CHUNK';

  constructor(what: string, expected: string, chunk: unknown) {
    super(`${what} expects ${expected} chunks, got ${typeName(chunk)}`);
    brand(this);
  }

  override get name(): string {
    return 'InvalidChunkError';
  }
}

/** What a worker thread threw, as it crosses to the main thread (see thread-protocol.ts). */
export interface ThrownInWorker {
  /** The thrown value was an Error: its name, message, stack and code. */
  error?: { name: string; message: string; stack: string | undefined; code: unknown };
  /** Its structured clone (an Error loses its subclass, code and other fields on the way). */
  clone: unknown;
}

/**
 * A function run by `threads()` threw (or rejected) in its worker thread. An error cannot cross threads
 * as the same object: this one has the original's `message` and `stack`, names the item (`index`,
 * 0-based, among the items written to the stage), and its `cause` is an Error with the original's
 * `name`, `message`, `stack` and `code` (or the structured clone of a thrown value that is not an Error).
 */
export class WorkerError extends SluiceError {
  /** The item's 0-based position among those written to the stage, when known. */
  readonly index: number | undefined;

  constructor(thrown: ThrownInWorker, index: number | undefined) {
    const original = thrown.error;
    const cause =
      original === undefined ? thrown.clone : Object.assign(new Error(original.message), { name: original.name, stack: original.stack, code: original.code });
    super('ERR_SLUICE_WORKER', original?.message ?? `a worker thread threw ${describeCause(thrown.clone)}`, { cause });
    this.index = index;
    if (original?.stack !== undefined) this.stack = original.stack;
  }
}

/** A worker thread of `threads()` ended (an uncaught error, `process.exit`, out of memory, terminated) while it had work. */
export class WorkerExitError extends SluiceError {
  constructor(message: string, options?: SluiceErrorOptions) {
    super('ERR_SLUICE_WORKER_EXIT', message, options);
  }
}

/** The process received a shutdown signal: the abort reason of `shutdownSignal()`'s signal. */
export class ShutdownError extends SluiceError {
  /** The signal received, e.g. `'SIGINT'`. */
  readonly signal: NodeJS.Signals;

  constructor(signal: NodeJS.Signals) {
    super('ERR_SLUICE_SHUTDOWN', `received ${signal}, shutting down`);
    this.signal = signal;
  }
}

/** An item arrived at a full `buffer()` whose `overflow` is `'error'`. */
export class BufferOverflowError extends SluiceError {
  /** The buffer's size: how many items it held when one more arrived. */
  readonly size: number;

  constructor(size: number) {
    super('ERR_SLUICE_BUFFER_OVERFLOW', `buffer(): an item arrived while full (size ${size})`);
    this.size = size;
  }
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}
