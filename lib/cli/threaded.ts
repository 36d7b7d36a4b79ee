// `sluice --threads N`: the main thread reads each input (decoded as without threads), cuts it into
// chunks of whole lines and hands them to threads() running thread-worker.ts, which split them and
// run the per-line stages. Results come back in input order: output lines (or items for the
// order-bound stages, which run here after), parts of --count-by's tally and of --skip-errors' count.
// Line numbers in messages stay exact: counted here when expressions use NR/FNR, else added up from
// the chunks' counts as their results come in, in order.
import { once } from 'node:events';
import { Readable, type Duplex } from 'node:stream';
import type { TransferListItem } from '../index.js';
import { createGunzip } from 'node:zlib';
import { batch, many, map, pipeline, threads } from '../index.js';
import { isGzip, TextBytes, type Endings } from './decode.js';
import { Gather } from './gather.js';
import { RunError, formatFailure, type Failure } from './errors.js';
import { located, openInput, type Input } from './inputs.js';
import { TextBlock } from './output.js';
import { entryFailed, type Entries, type Run, type Skips } from './program.js';
import type { Chunk, ChunkResult } from './thread-worker.js';

/** Bytes read at a time from a file, and bytes of whole lines gathered into a chunk at most. */
const READ = 4 * 1024 * 1024;
/** Milliseconds lines wait to be gathered into a chunk before it goes anyway. */
const GATHER_WAIT = 10;
const WORKER = new URL('./thread-worker.js', import.meta.url);

/** The inputs as chunks of whole lines; an input's last chunk may end without a newline. */
export class Chunks extends Readable {
  readonly #inputs: readonly Input[];
  readonly #binaryOk: boolean;
  /** Number the lines here (expressions use NR or FNR, or --skip drops lines here). */
  readonly #numbered: boolean;
  /** --skip: lines dropped at the start of each input, here rather than in every chunk's thread. */
  readonly #skip: number;
  #skipped = 0;
  #index = -1;
  #source: (Readable & { bytesRead?: number }) | undefined;
  #text: TextBytes | undefined;
  #gather: Gather | undefined;
  #first: TextBytes | undefined;
  #doneBytes = 0;
  #line = 1;
  #offset = 0;
  #before = 0;

  constructor(inputs: readonly Input[], opts: { binaryOk: boolean; numbered: boolean; skip: number }) {
    super({ objectMode: true, highWaterMark: 2 });
    this.#inputs = inputs;
    this.#binaryOk = opts.binaryOk;
    this.#numbered = opts.numbered || opts.skip > 0;
    this.#skip = opts.skip;
  }

  /** Lines --skip dropped, in every input so far. */
  get skipped(): number {
    return this.#skipped;
  }

  get bytesRead(): number {
    return this.#doneBytes + (this.#source?.bytesRead ?? 0);
  }

  get endings(): Endings {
    return { newline: this.#first?.endings.newline ?? '\n', finalNewline: this.#text?.endings.finalNewline ?? true };
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.#next();
    callback();
  }

  override _read(): void {
    this.#text?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#gather?.close();
    this.#text?.destroy();
    this.#source?.destroy();
    callback(error);
  }

  #next(): void {
    if (this.destroyed) return;
    this.#doneBytes = this.bytesRead;
    this.#source = undefined;
    const input = this.#inputs[++this.#index];
    if (input === undefined) {
      this.push(null);
      return;
    }
    const source = openInput(input, READ);
    this.#source = source;
    this.#open(input, source).catch((err: unknown) => this.destroy(located(err, input)));
  }

  async #open(input: Input, source: Readable): Promise<void> {
    const gzip = await isGzip(source);
    if (this.destroyed) return;
    const text = new TextBytes(input.label, this.#binaryOk);
    this.#first ??= text;
    this.#text = text;
    this.#line = 1;
    this.#offset = 0;
    const gather = new Gather(
      (bytes) => {
        if (!this.#chunk(input, bytes)) text.pause();
      },
      READ,
      GATHER_WAIT,
    );
    this.#gather = gather;
    let toSkip = this.#skip;
    /** Bytes of a dropped line were read, its newline not yet. */
    let inSkipped = false;
    text.on('data', (read: Buffer) => {
      let bytes = read;
      if (toSkip > 0) {
        // Whole lines dropped from the input's start (a line may span reads): numbered all the same.
        let at = 0;
        for (let nl = bytes.indexOf(0x0a); toSkip > 0 && nl !== -1; nl = bytes.indexOf(0x0a, at)) {
          at = nl + 1;
          toSkip--;
          this.#line++;
          this.#skipped++;
        }
        this.#offset += toSkip > 0 ? bytes.length : at;
        if (toSkip > 0) {
          inSkipped = at < bytes.length;
          return;
        }
        bytes = bytes.subarray(at);
      }
      gather.add(bytes);
    });
    await pipeline(source, ...(gzip ? [createGunzip()] : []), text);
    // pipeline() settles once `text` has taken every byte; what it holds for a paused 'data' is still to come.
    if (!text.readableEnded) await once(text, 'end');
    const last = gather.partial;
    gather.flush(true);
    // A last line without a newline that --skip dropped is a line all the same.
    if (toSkip > 0 && inSkipped) {
      this.#line++;
      this.#skipped++;
    }
    // Lines of this input, for NR in the next: its newlines, and a last line without one.
    this.#before += this.#line - 1 + (last ? 1 : 0);
    this.#next();
  }

  /** Sends `bytes` (whole lines, a buffer of their own: it moves to the thread). */
  #chunk(input: Input, bytes: Buffer): boolean {
    const chunk: Chunk = {
      parts: [bytes],
      move: [bytes.buffer],
      file: input.label,
      firstLine: this.#numbered ? this.#line : undefined,
      firstOffset: this.#offset,
      before: this.#before,
      newline: this.endings.newline,
    };
    this.#offset += bytes.length;
    if (this.#numbered) for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) this.#line++;
    return this.push(chunk);
  }
}

function transfer(chunk: Chunk): TransferListItem[] {
  return chunk.move as TransferListItem[];
}

/** Whether the expressions use line numbers (NR, FNR): then the chunks must carry theirs. */
export function numbered(sources: readonly string[]): boolean {
  return sources.some((source) => /(?<![\p{ID_Continue}$.])F?NR(?![\p{ID_Continue}$])/u.test(source));
}

interface ThreadOptions {
  threads: number;
  concurrency: number;
  workerData: unknown;
}

/** The stage running chunks on the threads, one chunk per message, results in input order. */
function pool(opts: ThreadOptions): Duplex {
  return threads<Chunk, ChunkResult>(WORKER, {
    threads: opts.threads,
    batch: 1,
    inFlight: 2,
    concurrency: opts.concurrency,
    workerData: opts.workerData,
    transfer,
  });
}

/**
 * The threaded stages: chunks to the threads, their results merged here in input order. `numbered`:
 * the chunks carry their first line's number (see Chunks).
 */
export function threadedStages(opts: ThreadOptions & { numbered: boolean; run: Run; skips: Skips | undefined; lines: { read: number } }): Duplex[] {
  const { run, skips, lines } = opts;
  // Lines before the current chunk in its input, from the counts of the chunks before it.
  let file: string | undefined;
  let before = 0;
  const shift = (failure: Failure, chunkFile: string): Failure =>
    opts.numbered || failure.line === undefined || failure.file !== chunkFile ? failure : { ...failure, line: failure.line + before };
  return [
    pool(opts),
    map(
      (result: ChunkResult) => {
        const chunkFile = result.file;
        if (chunkFile !== file) {
          file = chunkFile;
          before = 0;
        }
        if (result.failed !== undefined) throw new RunError(formatFailure(shift(result.failed, chunkFile)));
        if (result.firstSkip !== undefined) skips?.add(shift(result.firstSkip, chunkFile), result.skipped);
        run.merge(result.counts);
        before += result.lines;
        lines.read += result.lines;
        if (result.joined === undefined) return many(result.out);
        return result.joined.lines === 0 ? undefined : new TextBlock(result.joined.text, result.joined.lines);
      },
      { name: 'merge results' },
    ),
  ];
}

/** Entries per chunk at most (a read of the Redis source, up to 100 by default, ends one sooner). */
const RECORDS = 256;

/**
 * --threads with --from: the entries' lines to the threads in chunks (a chunk ends where a read's
 * checkpoint comes, or after `RECORDS` or 10 ms), the results merged here in input order. A failed
 * or skipped record is mapped back to its entry here, which is still in flight: its failure is noted
 * for it, or it is dead-lettered (entryFailed).
 */
export function threadedRecordStages(
  opts: ThreadOptions & { label: string; line: (item: unknown) => string; entries: Entries; run: Run; skips: Skips | undefined },
): Duplex[] {
  const { run, skips, entries, label } = opts;
  // The entries of the chunks on their way, oldest first: threads() gives results in input order.
  const waiting: unknown[][] = [];
  const chunk = (items: unknown[]): Chunk => {
    waiting.push(items);
    return { parts: [], move: [], file: label, firstLine: undefined, firstOffset: 0, before: 0, records: items.map(opts.line), newline: '\n' };
  };
  return [
    batch(RECORDS, { maxWait: 10 }),
    map(chunk, { name: 'records' }),
    pool(opts),
    map(
      (result: ChunkResult) => {
        const items = waiting.shift()!;
        if (result.failed !== undefined) {
          if (result.failedAt === undefined) throw new RunError(formatFailure(result.failed));
          // Without --skip-errors (with it, records are skipped instead): notes the error, and throws.
          return entryFailed(entries, undefined, items[result.failedAt], result.failed.text);
        }
        for (const [index, text] of result.skippedAt) entryFailed(entries, skips, items[index], text);
        run.merge(result.counts);
        return many(result.out);
      },
      { name: 'merge results' },
    ),
  ];
}
