/**
 * The worker module of hash-lines.ts: `threads()` loads it in each worker thread and calls its default
 * export for every line. What it returns is written out as is, so the line is built here, off the
 * main thread. `workerData` is what hash-lines.ts passed as `threads(…, { workerData })`.
 */
import { createHash } from 'node:crypto';
import { workerData } from 'node:worker_threads';

const { algorithm = 'sha256', rounds = 1 } = (workerData ?? {}) as { algorithm?: string; rounds?: number };

/** `digest line\n`: the line hashed, then its hex digest hashed again, `rounds` times in all. */
export default function hashLine(line: string): string {
  let digest = line;
  for (let round = 0; round < rounds; round++) digest = createHash(algorithm).update(digest).digest('hex');
  return `${digest} ${line}\n`;
}
