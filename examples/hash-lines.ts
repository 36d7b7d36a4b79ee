/**
 * Hashes every line of a file (or stdin) on every core and prints `hash line`, in input order.
 *
 *     node --import tsx examples/hash-lines.ts access.log > hashed.txt
 *     node --import tsx examples/hash-lines.ts --threads 2 --rounds 1000 - < access.log
 *
 * Options: --threads N (-j; default: every core), --rounds N (hash the hex digest again, N times in
 * all, as key stretching does; default 1), --algorithm NAME (any of `openssl list -digest-algorithms`;
 * default sha256), -h/--help.
 *
 * The main thread reads and cuts the input into lines (`split()`); `threads()` sends them to worker
 * threads in batches of 256, where hash-lines.worker.ts hashes each one, and passes the results on in
 * input order. A line goes to a thread and back for well under a microsecond, so threads pay off once
 * the work per line is heavier than that: one sha256 of a short line costs about a microsecond and
 * gains little; with `--rounds 100` every core is busy. Writing waits for the threads (backpressure),
 * so memory stays flat whatever the size of the input.
 *
 * The examples import the library's source so that they run without a build; in your project,
 * import from 'sluice'.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { getHashes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pipeline, split, threads } from '../lib/index.js';

// --help prints the comment above, up to "The main thread".
const HEADER = readFileSync(fileURLToPath(import.meta.url), 'utf8');
const USAGE = HEADER.slice(3, HEADER.indexOf('\n *\n * The main thread'))
  .replace(/^ \* ?/gm, '')
  .trim();

// The worker module beside this file: hash-lines.worker.ts when run through tsx (the worker threads
// inherit its --import), hash-lines.worker.js once compiled.
const WORKER = new URL(import.meta.url.endsWith('.ts') ? './hash-lines.worker.ts' : './hash-lines.worker.js', import.meta.url);

function count(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${flag} must be an integer >= 1, got ${JSON.stringify(text)}`);
  return n;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      threads: { type: 'string', short: 'j' },
      rounds: { type: 'string' },
      algorithm: { type: 'string', default: 'sha256' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const threadCount = count('threads', values.threads, availableParallelism());
  const rounds = count('rounds', values.rounds, 1);
  if (!getHashes().includes(values.algorithm)) throw new RangeError(`--algorithm: no hash named ${JSON.stringify(values.algorithm)}`);
  if (positionals.length > 1) throw new RangeError('one FILE at most (or - or nothing for stdin)');
  const file = positionals[0];
  const input = file === undefined || file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 });
  await pipeline(
    input,
    split(),
    threads<string, string>(WORKER, { threads: threadCount, workerData: { algorithm: values.algorithm, rounds } }),
    process.stdout,
  );
  return 0;
}

process.exitCode = await main().catch((err: unknown) => {
  // `… | head -1` closes the pipe early: the reader has what it wanted, which is not a failure.
  if ((err as NodeJS.ErrnoException).code === 'EPIPE') return 0;
  console.error(`hash-lines: ${err instanceof Error ? err.message : String(err)}`);
  return err instanceof RangeError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 2 : 1;
});
