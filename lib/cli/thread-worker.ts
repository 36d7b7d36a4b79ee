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
  /** --from: the lines themselves, one per entry, not split again; `parts` is then empty. */
  records?: string[];
}

export interface ChunkResult {
  file: string;
  out: unknown[];
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

const options = (workerData as { options: CliOptions }).options;
const program = compileProgram(options);

export default async function run(chunk: Chunk): Promise<ChunkResult> {
  const skips = options.skipErrors ? new Skips() : undefined;
  const built = program.build(skips);
  if (chunk.records !== undefined) return records(chunk.file, chunk.records, built, skips);
  const start = { firstLine: chunk.firstLine ?? 1, firstOffset: chunk.firstOffset };
  const { stage, lines } = built.input({ name: chunk.file, label: chunk.file, size: undefined }, chunk.before, start);
  const out: unknown[] = [];
  let failed: ChunkResult['failed'];
  try {
    await pipeline(
      Readable.from(chunk.parts.map((part) => Buffer.from(part.buffer, part.byteOffset, part.byteLength))),
      stage,
      async (items: AsyncIterable<unknown>) => {
        for await (const item of items) out.push(item);
      },
    );
  } catch (error) {
    failed = failureOf(error);
  }
  return {
    file: chunk.file,
    out,
    lines: lines(),
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
  return { file, out, lines: texts.length, counts: counts(built), skipped: skips?.count ?? 0, firstSkip: skips?.first, failed, failedAt, skippedAt };
}

/** A Symbol cannot cross threads: counted under its text, which is what is printed. */
function counts(built: Run): [unknown, number][] {
  return built.counts().map(([key, n]) => [typeof key === 'symbol' ? String(key) : key, n]);
}
