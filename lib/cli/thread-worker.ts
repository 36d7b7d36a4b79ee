// The worker module of `sluice --threads N`: each thread compiles the command line's expressions
// itself (they are source text) and runs a chunk of an input (whole lines) through the per-line
// stages, fused into its own split(), as the main thread does without threads. It sends back what
// came out (output lines, or items for the order-bound stages that run on the main thread), its part
// of --count-by's tally and of --skip-errors' count, or where the run failed. With --from, a chunk is
// records (entries' lines, which may hold newlines) instead of bytes; failures then say which record,
// so that the main thread names, notes or dead-letters its entry.
import { Readable } from 'node:stream';
import { workerData } from 'node:worker_threads';
import { pipeline } from '../index.js';
import type { CliOptions } from './args.js';
import { describe, failureOf, type Failure } from './errors.js';
import { compileProgram, Skips, type Run } from './program.js';
import { withRange } from './ranges.js';

/** A part of an input: whole lines, the line number and byte offset of the first, and the lines of the inputs before. */
export interface Chunk {
  parts: Uint8Array[];
  /** Buffers moved to the thread rather than copied (the parts' own). */
  move: ArrayBufferLike[];
  file: string;
  /** Known when expressions use NR or FNR; else the main thread numbers the lines from the counts. */
  firstLine: number | undefined;
  firstOffset: number;
  before: number;
  /** A regular file's bytes from `start` to `end` (whole lines), read by the thread itself (ranges.ts); `parts` is then empty. */
  range?: { path: string; start: number; end: number };
  /** --from: the lines themselves, one per entry, not split again; `parts` is then empty. */
  records?: string[];
  /** The output's line ending, when the thread joins its output lines (see `ThreadData.joined`). */
  newline: string;
}

export interface ChunkResult {
  file: string;
  /** Output items; empty when they came `joined`. */
  out: unknown[];
  /** The output lines joined by the chunk's newline, and how many there are (`ThreadData.joined`). */
  joined: { text: string; lines: number } | undefined;
  lines: number;
  counts: [unknown, number][];
  skipped: number;
  /** The first skipped line's failure (its line counted from the chunk's start when `firstLine` was not known). */
  firstSkip: Failure | undefined;
  failed: Failure | undefined;
  /** Records: the index of the record `failed` is about. */
  failedAt: number | undefined;
  /** Records, --skip-errors: each skipped record's index and what its error said. */
  skippedAt: [number, string][];
}

/** A record on its way through the stages: its index in the chunk, for a failure to name it. */
interface Indexed {
  index: number;
  text: string;
}

export interface ThreadData {
  options: CliOptions;
  /**
   * The output lines go straight to the writer (no stage runs after the threads' on the main
   * thread): the thread joins them into one text, which crosses threads and is written far more
   * cheaply than the lines one by one.
   */
  joined: boolean;
}

const { options, joined } = workerData as ThreadData;
/** Output lines joined at a time (see `lines`). */
const JOIN = 512;
const program = compileProgram(options);

export default async function run(chunk: Chunk): Promise<ChunkResult> {
  const skips = options.skipErrors ? new Skips() : undefined;
  const built = program.build(skips, undefined, false);
  if (chunk.records !== undefined) return records(chunk.file, chunk.records, built, skips);
  if (chunk.range !== undefined) {
    // A range that cannot be read fails the run as a failed line would: in order, naming the file.
    return withRange(chunk, (bytes) => lines(chunk, [bytes], built, skips)).catch(
      (error: unknown): ChunkResult => ({ ...nothing(chunk.file), failed: failureOf(error) }),
    );
  }
  return lines(
    chunk,
    chunk.parts.map((part) => Buffer.from(part.buffer, part.byteOffset, part.byteLength)),
    built,
    skips,
  );
}

async function lines(chunk: Chunk, bytes: Buffer[], built: Run, skips: Skips | undefined): Promise<ChunkResult> {
  const start = { firstLine: chunk.firstLine ?? 1, firstOffset: chunk.firstOffset };
  const { stage, lines: count } = built.input({ name: chunk.file, label: chunk.file, size: undefined }, chunk.before, start);
  const out: unknown[] = [];
  // Joined a few lines at a time into text of its own: a line's string may be a slice of a whole
  // window of the input, which each line kept to the end would keep alive.
  const texts: string[] = [];
  let lineCount = 0;
  let failed: ChunkResult['failed'];
  try {
    await pipeline(Readable.from(bytes), stage, async (items: AsyncIterable<unknown>) => {
      for await (const item of items) {
        out.push(item);
        if (joined && out.length === JOIN) {
          texts.push(out.join(chunk.newline));
          lineCount += out.length;
          out.length = 0;
        }
      }
    });
  } catch (error) {
    failed = failureOf(error);
  }
  if (joined && out.length > 0) {
    texts.push(out.join(chunk.newline));
    lineCount += out.length;
  }
  return {
    file: chunk.file,
    out: joined ? [] : out,
    joined: joined ? { text: texts.join(chunk.newline), lines: lineCount } : undefined,
    lines: count(),
    counts: counts(built),
    skipped: skips?.count ?? 0,
    firstSkip: skips?.first,
    failed,
    failedAt: undefined,
    skippedAt: [],
  };
}

async function records(file: string, texts: string[], built: Run, skips: Skips | undefined): Promise<ChunkResult> {
  const out: unknown[] = [];
  const skippedAt: [number, string][] = [];
  let failedAt: number | undefined;
  const onError = (error: unknown, item: unknown): undefined => {
    const { index } = item as Indexed;
    if (skips === undefined) {
      failedAt ??= index;
      throw error;
    }
    const text = describe(error);
    skippedAt.push([index, text]);
    return skips.add({ text });
  };
  let failed: Failure | undefined;
  try {
    const stage = built.records(file, (item) => (item as Indexed).text, onError);
    await pipeline(
      texts.map((text, index): Indexed => ({ index, text })),
      stage,
      async (items: AsyncIterable<unknown>) => {
        for await (const item of items) out.push(item);
      },
    );
  } catch (error) {
    failed = failureOf(error);
  }
  return {
    file,
    out,
    joined: undefined,
    lines: texts.length,
    counts: counts(built),
    skipped: skips?.count ?? 0,
    firstSkip: skips?.first,
    failed,
    failedAt,
    skippedAt,
  };
}

function nothing(file: string): ChunkResult {
  return { file, out: [], joined: undefined, lines: 0, counts: [], skipped: 0, firstSkip: undefined, failed: undefined, failedAt: undefined, skippedAt: [] };
}

/** A Symbol cannot cross threads: counted under its text, which is what is printed. */
function counts(built: Run): [unknown, number][] {
  return built.counts().map(([key, n]) => [typeof key === 'symbol' ? String(key) : key, n]);
}
