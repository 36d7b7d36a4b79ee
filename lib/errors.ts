/**
 * Errors that sluice raises at run time. Every one is a {@link SluiceError} with a stable `code`;
 * errors thrown by users' functions are never wrapped unless sluice has to add where they happened
 * (a line number), and then the original is the `cause`.
 *
 * @module
 */

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
  readonly code: string;

  constructor(code: string, message: string, options?: SluiceErrorOptions) {
    super(message, options);
    this.code = code;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** Where in the input an error happened. */
export interface InputPosition {
  /** 1-based line number. */
  line: number;
  /** Byte offset of the start of that line in the input (0-based). */
  offset: number;
  /** The input file, when known (the CLI sets it). */
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
  file?: string;

  constructor(pos: InputPosition, maxLength: number) {
    super(
      'ERR_SLUICE_LINE_TOO_LONG',
      `${where(pos)} (byte offset ${pos.offset}) is longer than maxLength (${maxLength} bytes)`,
    );
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
  file?: string;

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
  file?: string;

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

/** A chunk of a type the stage cannot handle was written to it (e.g. a number into `split()`). */
export class InvalidChunkError extends SluiceError {
  constructor(what: string, expected: string, chunk: unknown) {
    super('ERR_SLUICE_INVALID_CHUNK', `${what} expects ${expected} chunks, got ${typeName(chunk)}`);
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

/** @internal */
export function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** @internal */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}
