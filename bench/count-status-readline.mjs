// Counts the statuses of an access log the plain Node way: readline, split, a Map. The peer of
// `sluice --count-by` in bench/cli.ts; plain JavaScript so that it starts as fast as a user's script.
// Usage: node bench/count-status-readline.mjs FILE   → "count status" lines, most frequent first
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const counts = new Map();
const lines = createInterface({ input: createReadStream(process.argv[2]), crlfDelay: Infinity });
lines.on('line', (line) => {
  const status = line.split(' ')[8];
  counts.set(status, (counts.get(status) ?? 0) + 1);
});
lines.on('close', () => {
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  process.stdout.write(sorted.map(([status, count]) => `${count} ${status}\n`).join(''));
});
