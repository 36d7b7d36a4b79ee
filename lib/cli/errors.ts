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

/**
 * The one-line message for an error that names a line of input: `FILE:LINE: cause`. A `LineError`'s
 * `cause` is what an expression (or `JSON.parse`) threw; a `LineTooLongError` is what binary input
 * without newlines ends in. (The CLI does not ask split() for `fatal` UTF-8 checks.)
 */
export function lineMessage(err: unknown): string | undefined {
  if (err instanceof LineError) return `${err.file ?? '<input>'}:${err.line}: ${describe(err.cause)}`;
  if (err instanceof LineTooLongError) {
    return `${err.file ?? '<input>'}:${err.line}: the line is longer than ${err.maxLength} bytes (it starts at byte ${err.offset}); is this a text file?`;
  }
  return undefined;
}
