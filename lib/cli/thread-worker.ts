// The worker module of `sluice --threads N`: each thread compiles the command line's expressions
// itself (they are source text) and runs a chunk of an input (whole lines) through the per-line
// stages, fused into its own split(), as the main thread does without threads. It sends back what
// came out (output lines, or items for the order-bound stages that run on the main thread), its part
// of --count-by's tally and of --skip-errors' count, or where the run failed.
import { Readable } from 'node:stream';
import { workerData } from 'node:worker_threads';
import { pipeline } from '../index.js';
import type { CliOptions } from './args.js';
import { failureOf, type Failure } from './errors.js';
import { compileProgram, Skips } from './program.js';

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
}

const options = (workerData as { options: CliOptions }).options;
const program = compileProgram(options);

export default async function run(chunk: Chunk): Promise<ChunkResult> {
  const skips = options.skipErrors ? new Skips() : undefined;
  const built = program.build(skips);
  const start = { firstLine: chunk.firstLine ?? 1, firstOffset: chunk.firstOffset };
  const { stage, lines } = built.input({ name: chunk.file, label: chunk.file, size: undefined }, chunk.before, start);
  const out: unknown[] = [];
  let failed: ChunkResult['failed'];
  try {
    await pipeline(Readable.from(chunk.parts.map((part) => Buffer.from(part.buffer, part.byteOffset, part.byteLength))), stage, async (items: AsyncIterable<unknown>) => {
      for await (const item of items) out.push(item);
    });
  } catch (error) {
    failed = failureOf(error);
  }
  return {
    file: chunk.file,
    out,
    lines: lines(),
    // A Symbol cannot cross threads: counted under its text, which is what is printed.
    counts: built.counts().map(([key, n]) => [typeof key === 'symbol' ? String(key) : key, n]),
    skipped: skips?.count ?? 0,
    firstSkip: skips?.first,
    failed,
  };
}
