/**
 * The smallest stdin → stdout filter: every line upper-cased.
 *
 *     printf 'hello\nsluice\n' | node --import tsx examples/stdin-upper.ts
 *
 * `split()` cuts the bytes into lines (a character cut between two chunks is joined first), `map()`
 * transforms them, and `pipeline()` connects the three with backpressure: when stdout is slow,
 * stdin is not read faster than it drains. The examples import the library's source so that they
 * run without a build; in your project, import from 'sluice'.
 */
import { map, pipeline, split } from '../lib/index.js';

await pipeline(
  process.stdin,
  split(),
  map((line: string) => `${line.toUpperCase()}\n`),
  process.stdout,
).catch((err: unknown) => {
  // `… | head -1` closes the pipe early: the reader has what it wanted, which is not a failure.
  if ((err as NodeJS.ErrnoException).code === 'EPIPE') return;
  console.error(`stdin-upper: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
