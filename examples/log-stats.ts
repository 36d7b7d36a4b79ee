/**
 * Web access log → requests per status, top endpoints, p50/p95/p99 latency and bytes served.
 *
 *     node --import tsx examples/log-stats.ts access.log [more.log …]     # files, or stdin with none
 *     node --import tsx examples/log-stats.ts --generate 20000 [--seed 1]   # a generated sample log
 *
 * Each line is parsed inside `split()` (its `map`), so a line costs one function call and no stream
 * hop; a malformed line is counted and dropped. Memory stays flat whatever the size of the log:
 * latencies go into a histogram of whole milliseconds (exact for logs with millisecond resolution),
 * and paths are grouped into endpoints (`/api/items/:id`, query strings dropped). Ctrl-C prints what
 * was counted so far.
 *
 * The examples import the library's source so that they run without a build; in your project,
 * import from 'sluice'.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { pipeline, shutdownSignal, split, ShutdownError } from '../lib/index.js';
import { accessLogStream } from './gen-access-log.js';

/** One request, as parsed from a line of combined log format with the latency at the end. */
interface Request {
  status: number;
  path: string;
  bytes: number;
  /** Seconds. */
  latency: number;
}

// 203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET /api/items/42?x=1 HTTP/1.1" 200 5123 "-" "curl/8.5.0" 0.023
const LINE = /^\S+ \S+ \S+ \[[^\]]*\] "\S+ (\S+)[^"]*" (\d{3}) (\d+|-) "[^"]*" "[^"]*" (\d+(?:\.\d+)?)$/;

function parseLine(line: string): Request | undefined {
  const m = LINE.exec(line);
  if (m === null) return undefined;
  return { path: m[1]!, status: Number(m[2]), bytes: m[3] === '-' ? 0 : Number(m[3]), latency: Number(m[4]) };
}

/** `/api/items/42?x=1` → `/api/items/:id`: one row per endpoint, not per URL. */
function endpoint(path: string): string {
  const q = path.indexOf('?');
  return (q === -1 ? path : path.slice(0, q)).replace(/\/\d+(?=\/|$)/g, '/:id');
}

/** Running totals; nothing in here grows with the number of lines. */
class Stats {
  requests = 0;
  malformed = 0;
  bytes = 0;
  readonly statuses = new Map<number, number>();
  readonly endpoints = new Map<string, number>();
  // Requests per whole millisecond of latency; the last slot holds everything from 60 s up.
  readonly #histogram = new Uint32Array(60_001);
  #maxLatency = 0;

  add(r: Request): void {
    this.requests++;
    this.bytes += r.bytes;
    this.statuses.set(r.status, (this.statuses.get(r.status) ?? 0) + 1);
    const e = endpoint(r.path);
    this.endpoints.set(e, (this.endpoints.get(e) ?? 0) + 1);
    this.#histogram[Math.min(this.#histogram.length - 1, Math.round(r.latency * 1000))]!++;
    if (r.latency > this.#maxLatency) this.#maxLatency = r.latency;
  }

  /** The latency (seconds) below which `p` of the requests fall (nearest rank). */
  percentile(p: number): number {
    const rank = Math.max(1, Math.ceil(p * this.requests));
    let seen = 0;
    for (let ms = 0; ms < this.#histogram.length; ms++) {
      seen += this.#histogram[ms]!;
      if (seen >= rank) return ms / 1000;
    }
    return this.#maxLatency;
  }

  report(seconds: number): string {
    const n = (x: number): string => x.toLocaleString('en-US');
    const share = (x: number): string => `${((100 * x) / Math.max(1, this.requests)).toFixed(1)}%`;
    const rows = (map: Map<string | number, number>, limit: number): [string, number][] =>
      [...map]
        .sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])))
        .slice(0, limit)
        .map(([k, v]) => [String(k), v]);
    const table = (title: string, data: [string, number][]): string => {
      const width = Math.max(title.length, ...data.map(([k]) => k.length));
      const counts = Math.max(8, ...data.map(([, v]) => n(v).length));
      const head = `${title.padEnd(width)}  ${'requests'.padStart(counts)}   share`;
      return [head, ...data.map(([k, v]) => `${k.padEnd(width)}  ${n(v).padStart(counts)}  ${share(v).padStart(6)}`)].join('\n');
    };
    const s = (x: number): string => `${x.toFixed(3)} s`;
    return [
      `${n(this.requests)} requests, ${(this.bytes / 2 ** 20).toFixed(1)} MiB served, ${n(this.malformed)} malformed lines, in ${seconds.toFixed(2)} s`,
      '',
      table('status', rows(this.statuses, Infinity)),
      '',
      table('top endpoints', rows(this.endpoints, 10)),
      '',
      `latency  p50 ${s(this.percentile(0.5))}  p95 ${s(this.percentile(0.95))}  p99 ${s(this.percentile(0.99))}  max ${s(this.#maxLatency)}`,
    ].join('\n');
  }
}

/** Reads every source in turn into `stats`; stops early, with what it has, when `signal` aborts. */
async function collect(sources: (() => Readable)[], stats: Stats, signal?: AbortSignal): Promise<void> {
  for (const open of sources) {
    const lines = split<undefined>({
      map: (line) => {
        const request = parseLine(line);
        if (request === undefined) stats.malformed++;
        else stats.add(request);
        return undefined; // all the work is done here: nothing travels down the pipeline
      },
    });
    await pipeline(
      open(),
      lines,
      async (nothing: AsyncIterable<unknown>) => {
        for await (const _ of nothing);
      },
      signal === undefined ? {} : { signal },
    );
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { generate: { type: 'string' }, seed: { type: 'string', default: '1' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log('Usage: node --import tsx examples/log-stats.ts [--generate LINES [--seed N]] [FILE...]');
    return;
  }
  const sources: (() => Readable)[] =
    values.generate !== undefined
      ? [() => accessLogStream({ lines: Number(values.generate), seed: Number(values.seed) })]
      : positionals.length > 0
        ? positionals.map((file) => () => (file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 })))
        : [() => process.stdin];
  const stats = new Stats();
  const started = performance.now();
  const shutdown = shutdownSignal();
  try {
    await collect(sources, stats, shutdown.signal);
  } catch (err) {
    if (!(err instanceof ShutdownError)) throw err;
    console.log(`(interrupted by ${err.signal}: the figures cover what was read until then)`);
  } finally {
    shutdown.dispose();
  }
  console.log(stats.report((performance.now() - started) / 1000));
}

await main().catch((err: unknown) => {
  console.error(`log-stats: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
