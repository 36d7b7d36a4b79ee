// How the command fails, and the exit status each failure maps to.

/** A bad command line: exit status 2, with a hint to `--help`. */
export class UsageError extends Error {}

/** A failure that is not a bug: exit status 1 with just the message (no stack trace). */
export class RunError extends Error {}

/**
 * A line of input whose expression failed in a stage that runs after `split()`. Inside `split()`
 * the library's own `LineError` says the same, with the byte offset.
 */
export class LineFailure extends Error {
  readonly file: string;
  readonly line: number;

  constructor(file: string, line: number, cause: unknown) {
    super(`${file}:${line}: ${describe(cause)}`, { cause });
    this.file = file;
    this.line = line;
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
 * The one-line message for an error that names a line of input: `FILE:LINE: cause`. split()'s
 * input errors carry `line`, `offset` and a settable `file`: a `LineError`'s `cause` is what the
 * expression (or `JSON.parse`) threw; a `LineTooLongError` is what binary input without newlines
 * ends in. (The CLI does not ask split() for `fatal` UTF-8 checks, so no `InvalidUtf8Error`.)
 */
export function lineMessage(err: unknown): string | undefined {
  if (err instanceof LineFailure) return err.message;
  const e = err as { line?: unknown; file?: unknown; offset?: unknown; code?: unknown; cause?: unknown; maxLength?: unknown } | null;
  if (e === null || typeof e !== 'object' || typeof e.line !== 'number' || typeof e.file !== 'string') return undefined;
  const where = `${e.file}:${e.line}`;
  switch (e.code) {
    case 'ERR_SLUICE_LINE':
      return `${where}: ${describe(e.cause)}`;
    case 'ERR_SLUICE_LINE_TOO_LONG':
      return `${where}: the line is longer than ${String(e.maxLength)} bytes (it starts at byte ${String(e.offset)}); is this a text file?`;
    default:
      return `${where}: ${describe(err)}`;
  }
}
