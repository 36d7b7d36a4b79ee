// The output side: stdout (a closed pipe ends the run quietly) or a file, and the Writable that turns
// items into lines for either, with backpressure. A regular file is written atomically (a temp file in
// the same folder, renamed over FILE on success, removed on failure); anything else is written directly.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { constants, createWriteStream, unlinkSync, type Stats } from 'node:fs';
import { open, readlink, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Endings } from './decode.js';
import { reason, RunError } from './errors.js';

/** Where the output lines go. */
export interface Destination {
  readonly stream: Writable;
  /**
   * Aborts when nothing more can be written: with EPIPE as it is (the reader left), or with a write
   * error; a file's as a RunError that names the file.
   */
  readonly failed: AbortSignal;
  /** The run succeeded: wait until everything is written; a file is then moved into place. */
  commit(): Promise<void>;
  /**
   * The run failed or was interrupted: a temp file is removed; stdout, a device or a FIFO keeps the
   * whole lines it was given.
   */
  discard(): Promise<void>;
  /** The process is about to be killed (a second Ctrl-C): removes the temp file, synchronously, while there is time. */
  discardNow(): void;
}

/** Files are written 1 MiB at a time. */
const CHUNK = 1024 * 1024;

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
  // Nothing to remove: what reached stdout is the reader's.
  return { stream: out, failed: controller.signal, commit: flush, discard: flush, discardNow: () => {} };
}

const code = (err: unknown): unknown => (err as { code?: unknown } | null)?.code;

/** `cannot write out.txt: EACCES: permission denied`: FILE could not be opened, set up or renamed. */
function cannotWrite(path: string, err: unknown): RunError {
  return new RunError(`cannot write ${path}: ${reason(err)}`);
}

/**
 * `out.txt: ENOSPC: no space left on device`: a write failed; named after FILE, never the temp file,
 * and without the syscall (", write"), which tells a user nothing. EPIPE (a FIFO's reader left) is
 * passed on as it is, to end the run quietly as it does on stdout.
 */
function writeError(path: string, err: unknown): unknown {
  if (code(err) === 'EPIPE') return err;
  return new RunError(`${path}: ${reason(err).replace(/, write$/, '')}`);
}

/**
 * `-o FILE` and `-i FILE`. Symlinks are followed, as `>` and `sed -i --follow-symlinks` do: the file
 * they lead to is written and the links stay. A regular file (or a new one) is replaced atomically,
 * keeping its mode, owner and group. Anything else (/dev/null, a FIFO, a terminal) is written
 * directly, as `>` does, since replacing it would break it; for `inPlace` (-i) it is refused, as sed
 * does: it is not a file that can be rewritten.
 */
export async function fileDestination(path: string, inPlace = false): Promise<Destination> {
  const { file, stats } = await target(path);
  if (stats === undefined || stats.isFile()) return atomicDestination(path, file, stats);
  if (inPlace) throw new RunError(`${path}: not a regular file`);
  return directDestination(path);
}

/** Where writing to `path` lands (symlinks followed), and what is there now, if anything. */
async function target(path: string): Promise<{ file: string; stats: Stats | undefined }> {
  try {
    const stats = await stat(path);
    return { file: stats.isFile() ? await realpath(path) : path, stats };
  } catch (err) {
    if (code(err) !== 'ENOENT') throw cannotWrite(path, err);
  }
  // Missing, or a dangling symlink: `>` creates the file the link names.
  const link = await readlink(path).catch(() => undefined);
  if (link === undefined) return { file: path, stats: undefined };
  return target(resolvePath(dirname(path), link));
}

/**
 * A temp file next to `file` (so that the final rename stays on one file system, hence atomic),
 * created exclusively, renamed over `file` on commit. `replaced`: the file there now, whose mode,
 * owner and group the new one keeps. Messages name `path`, as given on the command line.
 */
async function atomicDestination(path: string, file: string, replaced: Stats | undefined): Promise<Destination> {
  const tmp = join(dirname(file), `.${basename(file)}.sluice-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  // A new file gets the default mode (0666 less the umask), as `>` gives it; a replacement stays
  // private until it has the replaced file's owner and mode.
  const handle = await open(tmp, 'wx', replaced === undefined ? 0o666 : 0o600).catch((err: unknown) => {
    throw cannotWrite(path, err);
  });
  try {
    if (replaced !== undefined) {
      // Only root may give a file away: anyone else keeps the file as their own, with the mode.
      await handle.chown(replaced.uid, replaced.gid).catch((err: unknown) => {
        if (code(err) !== 'EPERM') throw err;
      });
      // After chown, which clears the set-user-ID and set-group-ID bits.
      await handle.chmod(replaced.mode & 0o7777);
    }
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => {});
    throw cannotWrite(path, err);
  }
  const stream = createWriteStream(tmp, { fd: handle, highWaterMark: CHUNK });
  const controller = new AbortController();
  stream.on('error', (err) => controller.abort(writeError(path, err)));
  const remove = (): Promise<void> => unlink(tmp).catch(() => {});
  let settled = false;
  return {
    stream,
    failed: controller.signal,
    async commit() {
      settled = true;
      try {
        stream.end();
        await finished(stream);
      } catch (err) {
        await remove();
        throw writeError(path, err);
      }
      try {
        // On disk before it takes FILE's name, so that a crash just after the rename cannot leave
        // FILE empty. fsync flushes the file, whichever descriptor asks.
        const synced = await open(tmp, 'r');
        await synced.sync().finally(() => synced.close());
        await rename(tmp, file);
      } catch (err) {
        await remove();
        throw cannotWrite(path, err);
      }
    },
    async discard() {
      if (settled) return;
      settled = true;
      stream.destroy();
      await finished(stream).catch(() => {});
      await remove();
    },
    discardNow() {
      try {
        unlinkSync(tmp);
      } catch {
        // Already renamed into place, or removed: nothing left to do.
      }
    },
  };
}

/**
 * Writes straight to what is at `path` (a device, a FIFO, a terminal), as `>` does. Opened without
 * O_CREAT: should it have gone since, no half-written regular file takes its place. Opening a FIFO
 * waits for a reader, as `>` does.
 */
async function directDestination(path: string): Promise<Destination> {
  const handle = await open(path, constants.O_WRONLY).catch((err: unknown) => {
    throw cannotWrite(path, err);
  });
  const stream = createWriteStream(path, { fd: handle, highWaterMark: CHUNK });
  const controller = new AbortController();
  stream.on('error', (err) => controller.abort(writeError(path, err)));
  return {
    stream,
    failed: controller.signal,
    async commit() {
      stream.end();
      await finished(stream).catch((err: unknown) => {
        throw writeError(path, err);
      });
    },
    // As on stdout, what was written stays written: the whole lines held are passed on, then it is closed.
    async discard() {
      if (!stream.writableEnded) await flushed(stream, controller.signal);
      stream.destroy();
    },
    // Nothing to remove.
    discardNow() {},
  };
}

/** Output text is handed to the destination in pieces of about this many characters. */
const FLUSH_AT = 64 * 1024;

export interface LineWriterOptions {
  /** Lines to write once every item has been written (--count-by's result, --end's value). */
  atEnd: () => string[];
  /** The input's line ending, used for every line, and whether its last line has one. */
  endings: () => Endings;
  /** Leave the last newline off when the input's last line has none (a file target: `-o`, `-i`). */
  keepFinal: boolean;
}

/** Output lines already joined by their newline (a thread's, see thread-worker.ts): written as they are. */
export class TextBlock {
  constructor(
    readonly text: string,
    readonly lines: number,
  ) {}
}

/**
 * The last stage: each item (a string, or a TextBlock of lines) becomes a line, ended as the input's lines are (LF or CRLF).
 * Lines are gathered into writes of up to ~64 KiB, handed over once the current burst of input has
 * been processed (`setImmediate`), so that `tail -f | sluice` shows lines at once. A write the
 * destination cannot take holds the stage until it drains. Destroyed (an error elsewhere, an
 * interrupt), it still writes the whole lines it holds. With `keepFinal`, the last newline is held
 * back until the end, and dropped if the input had none.
 */
export class LineWriter extends Writable {
  readonly #dest: Destination;
  readonly #opts: LineWriterOptions;
  #pending = '';
  /** The newline held back (keepFinal): it goes out before the next line, or at the end. */
  #held = '';
  #lines = 0;
  #soon: NodeJS.Immediate | undefined;

  constructor(dest: Destination, opts: LineWriterOptions) {
    super({ objectMode: true, highWaterMark: 16 });
    this.#dest = dest;
    this.#opts = opts;
  }

  /** Lines written (or held to be written) so far. */
  get lines(): number {
    return this.#lines;
  }

  override _write(text: string | TextBlock, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#add(text);
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
      lines = this.#opts.atEnd();
    } catch (err) {
      callback(err as Error);
      return;
    }
    let i = 0;
    const more = (): void => {
      while (i < lines.length) {
        this.#add(lines[i++]!);
        if (this.#pending.length >= FLUSH_AT) {
          this.#flush(more);
          return;
        }
      }
      if (this.#held !== '' && this.#opts.endings().finalNewline) this.#pending += this.#held;
      this.#held = '';
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

  #add(item: string | TextBlock): void {
    const newline = this.#opts.endings().newline;
    const text = typeof item === 'string' ? item : item.text;
    if (this.#opts.keepFinal) {
      this.#pending += this.#held + text;
      this.#held = newline;
    } else this.#pending += text + newline;
    this.#lines += typeof item === 'string' ? 1 : item.lines;
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
