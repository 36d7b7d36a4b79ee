/**
 * The functions of the threads scenario: the worker module that threads() and piscina load in their
 * threads, and that the single-thread variants import. The runner transpiles it with the rest of
 * bench/, so the children load it as plain JavaScript beside threads.js.
 *
 * @module
 */
import { createHash } from 'node:crypto';

/** Rounds of sha256 per item: ~14 µs for a 1 KiB line on an idle core here. */
export const ROUNDS = 8;

/** A CPU-bound function of ~10–20 µs: sha256 of the line, chained `ROUNDS` times; the first 32 bits. */
export function hash(line: string): number {
  let digest = '';
  for (let round = 0; round < ROUNDS; round++) digest = createHash('sha256').update(digest).update(line).digest('hex');
  return parseInt(digest.slice(0, 8), 16);
}

/** A function that costs nothing: what is left is the cost of getting items to a thread and back. */
export function inc(n: number): number {
  return n + 1;
}
