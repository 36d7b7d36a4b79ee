// How the command fails, and the exit status each failure maps to.
import { LineError, LineTooLongError } from '../index.js';

/** A bad command line: exit status 2, with a hint to `--help`. */
export class UsageError extends Error {}

/** A failure that is not a bug: just the message (no stack trace), and exit status 1 (or `status`). */
export class RunError extends Error {
  readonly status: number;

  constructor(message: string, status = 1) {
    super(message);
    this.status = status;
  }
}

/**
 * An expression that runs after --batch, --rate or --take failed: the line it came from is no longer
 * known there, so the message names the flag and the expression.
 */
export class ExprError extends Error {
  constructor(flag: string, source: string, cause: unknown) {
    super(`${flag} ${JSON.stringify(source)}: ${describe(cause)}`, { cause });
  }
}

/**
 * An expression (or `JSON.parse`) failed for an entry of a Redis stream (--from): it names the entry
 * as `STREAM@ID`, as a LineError names FILE:LINE. `cause` is what was thrown (on a thread: its
 * description, a string).
 */
export class EntryError extends Error {
  constructor(entry: string, cause: unknown) {
    super(`${entry}: ${describe(cause)}`, { cause });
  }
}

/** `ENOENT: no such file or directory` from `ENOENT: no such file or directory, open 'x'`. */
export function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/, \w+ '.*'$/s, '');
}

/** `SyntaxError: Unexpected token` for errors, the value as text for anything else that was thrown. */
export function describe(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  if (typeof cause === 'object' && cause !== null) {
    try {
      return JSON.stringify(cause);
    } catch {
      // Circular or otherwise unprintable: fall through to String().
    }
  }
  return String(cause);
}

/** What a failure says: where in the input (for a line of it) and what. */
export interface Failure {
  file?: string;
  line?: number;
  text: string;
}

/**
 * A failure in parts: a `LineError` names its line and says what the expression (or `JSON.parse`)
 * threw; a `LineTooLongError` is what binary input without newlines ends in; a RunError or ExprError
 * (not a bug) says its message; anything else describes itself. (The CLI does not ask split() for
 * `fatal` UTF-8 checks.)
 */
export function failureOf(err: unknown): Failure {
  if (err instanceof LineError) return { file: err.file ?? '<input>', line: err.line, text: describe(err.cause) };
  if (err instanceof LineTooLongError) {
    return {
      file: err.file ?? '<input>',
      line: err.line,
      text: `the line is longer than ${err.maxLength} bytes (it starts at byte ${err.offset}); is this a text file?`,
    };
  }
  return { text: err instanceof RunError || err instanceof ExprError || err instanceof EntryError ? err.message : describe(err) };
}

/** `FILE:LINE: text`, or the text alone. */
export function formatFailure(failure: Failure): string {
  return failure.line === undefined ? failure.text : `${failure.file ?? '<input>'}:${failure.line}: ${failure.text}`;
}

/** What a failure says on stderr. */
export function describeFailure(err: unknown): string {
  return formatFailure(failureOf(err));
}
