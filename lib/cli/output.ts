// The output side: stdout (a closed pipe ends the run quietly) or a file written atomically (a temp
// file in the same folder, renamed over FILE on success, removed on failure), and the Writable that
// turns items into lines for either, with backpressure.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { chmod, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { reason, RunError } from './errors.js';

/** Where the output lines go. */
export interface Destination {
  readonly stream: Writable;
  /** Aborts (with the error) when nothing more can be written: EPIPE (the reader left) or a write error. */
  readonly failed: AbortSignal;
  /** The run succeeded: wait until everything is written; a file is then moved into place. */
  commit(): Promise<void>;
  /** The run failed or was interrupted: a file is removed; stdout keeps the whole lines it was given. */
  discard(): Promise<void>;
}

/** Resolves once `stream` can take more ('drain'), or once `failed` aborts. */
function drain(stream: Writable, failed: AbortSignal): Promise<void> {
  return once(stream, 'drain', { signal: failed }).then(
    () => {},
    () => {},
  );
}

/** Resolves once everything written to `stream` so far has been handed to the OS, or `failed` aborts. */
function flushed(stream: Writable, failed: AbortSignal): Promise<void> {
  if (failed.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      failed.removeEventListener('abort', done);
      resolve();
    };
    failed.addEventListener('abort', done, { once: true });
    // Writes complete in order, so an empty one calls back after all those before it.
    stream.write('', done);
  });
}

export function stdoutDestination(): Destination {
  const out = process.stdout;
  const controller = new AbortController();
  // Stays attached: after EPIPE every later write fails the same way, and must stay quiet too.
  out.on('error', (err) => controller.abort(err));
  const flush = (): Promise<void> => flushed(out, controller.signal);
  return { stream: out, failed: controller.signal, commit: flush, discard: flush };
}

/**
 * A temp file next to `path` (so that the final rename stays on one file system, hence atomic),
 * created exclusively. `keepMode`: give it the mode of the file it replaces (for --in-place).
 */
export async function fileDestination(path: string, keepMode = false): Promise<Destination> {
  const tmp = join(dirname(path), `.${basename(path)}.sluice-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  const stream = createWriteStream(tmp, { flags: 'wx', highWaterMark: 1024 * 1024 });
  try {
    await once(stream, 'open');
  } catch (err) {
    throw new RunError(`cannot write ${path}: ${reason(err)}`);
  }
  try {
    if (keepMode) await chmod(tmp, (await stat(path)).mode & 0o7777);
  } catch (err) {
    stream.destroy();
    await unlink(tmp).catch(() => {});
    throw new RunError(`cannot write ${path}: ${reason(err)}`);
  }
  const controller = new AbortController();
  stream.on('error', (err) => controller.abort(err));
  let settled = false;
  return {
    stream,
    failed: controller.signal,
    async commit() {
      settled = true;
      try {
        stream.end();
        await finished(stream);
        // On disk before it takes FILE's name, so that a crash just after the rename cannot leave
        // FILE empty. fsync flushes the file, whichever descriptor asks.
        const handle = await open(tmp, 'r');
        await handle.sync().finally(() => handle.close());
        await rename(tmp, path);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw new RunError(`cannot write ${path}: ${reason(err)}`);
      }
    },
    async discard() {
      if (settled) return;
      settled = true;
      stream.destroy();
      await finished(stream).catch(() => {});
      await unlink(tmp).catch(() => {});
    },
  };
}

/** Output text is handed to the destination in pieces of about this many characters. */
const FLUSH_AT = 64 * 1024;

/**
 * The last stage: each item becomes a line (`toText` returns its text, or undefined for no line).
 * Lines are gathered into writes of up to ~64 KiB, handed over once the current burst of input has
 * been processed (`setImmediate`), so that `tail -f | sluice` shows lines at once. A write the
 * destination cannot take holds the stage until it drains. Destroyed (an error elsewhere, an
 * interrupt), it still writes the whole lines it holds.
 */
export class LineWriter extends Writable {
  readonly #dest: Destination;
  readonly #toText: (item: unknown) => string | undefined;
  readonly #atEnd: (() => string[]) | undefined;
  #pending = '';
  #lines = 0;
  #soon: NodeJS.Immediate | undefined;

  /** `atEnd`: lines to write once every item has been written (--count-by's result). */
  constructor(dest: Destination, toText: (item: unknown) => string | undefined, atEnd?: () => string[]) {
    super({ objectMode: true, highWaterMark: 16 });
    this.#dest = dest;
    this.#toText = toText;
    this.#atEnd = atEnd;
  }

  /** Lines written (or held to be written) so far. */
  get lines(): number {
    return this.#lines;
  }

  override _write(item: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let text: string | undefined;
    try {
      text = this.#toText(item);
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (text !== undefined) {
      this.#pending += text + '\n';
      this.#lines++;
    }
    if (this.#pending.length >= FLUSH_AT) {
      this.#flush(callback);
      return;
    }
    // Unless the destination is still busy with the last piece: then the next full piece will wait.
    this.#soon ??= setImmediate(() => {
      this.#soon = undefined;
      if (!this.#dest.stream.writableNeedDrain) this.#flush(() => {});
    });
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    let lines: string[];
    try {
      lines = this.#atEnd?.() ?? [];
    } catch (err) {
      callback(err as Error);
      return;
    }
    let i = 0;
    const more = (): void => {
      while (i < lines.length) {
        this.#pending += lines[i++] + '\n';
        this.#lines++;
        if (this.#pending.length >= FLUSH_AT) return this.#flush(more);
      }
      this.#flush(callback);
    };
    more();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearImmediate(this.#soon);
    if (this.#pending !== '' && !this.#dest.failed.aborted) this.#dest.stream.write(this.#pending);
    this.#pending = '';
    callback(error);
  }

  #flush(callback: () => void): void {
    clearImmediate(this.#soon);
    this.#soon = undefined;
    const text = this.#pending;
    this.#pending = '';
    const { stream, failed } = this.#dest;
    if (text === '' || failed.aborted || stream.write(text)) {
      callback();
      return;
    }
    drain(stream, failed).then(() => callback());
  }
}
