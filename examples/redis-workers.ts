/**
 * Many machines, one stream of work: a producer writes access-log lines into a Redis stream, and
 * worker processes (one per machine, or several) share them through a consumer group. Each worker
 * counts statuses and copies the 5xx lines to a second stream; an entry is acknowledged only once
 * its line is counted and, for a 5xx, written to that stream. Kill a worker and start it again (or
 * let the others claim its entries after --claim-idle ms): no line is lost. Ctrl-C (or SIGTERM)
 * drains a worker: it finishes and acknowledges what it holds, prints its counts and exits.
 *
 *     node --import tsx examples/redis-workers.ts [demo] [--lines 20000] [--workers 3] [--url redis://…]
 *     node --import tsx examples/redis-workers.ts producer --url redis://HOST:6379 [--lines N]
 *     node --import tsx examples/redis-workers.ts worker --url redis://HOST:6379 [--consumer NAME]
 *
 * `demo` (the default) starts a redis-server of its own on a free port when no --url is given
 * (Debian's `redis-server` package), runs the producer and --workers worker processes, drains them
 * once every entry is acknowledged, and prints what each one did.
 *
 * Options: --stream (default access-log), --group (log-stats), --errors (access-log:5xx),
 * --claim-idle MS (30000), --json (a worker prints its counts as JSON), -h/--help.
 *
 * The examples import the library's source so that they run without a build; in your project,
 * import from 'sluice' and 'sluice/redis'.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chain, fromIterable, pipeline } from '../lib/index.js';
import { redisSink, redisSource } from '../lib/redis/index.js';
import { accessLogLines } from './gen-access-log.js';

const HEADER = readFileSync(fileURLToPath(import.meta.url), 'utf8');
const USAGE = HEADER.slice(3, HEADER.indexOf('\n *\n * The examples'))
  .replace(/^ \* ?/gm, '')
  .trim();

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' },
    lines: { type: 'string', default: '20000' },
    workers: { type: 'string', default: '3' },
    stream: { type: 'string', default: 'access-log' },
    group: { type: 'string', default: 'log-stats' },
    errors: { type: 'string', default: 'access-log:5xx' },
    consumer: { type: 'string', default: `${hostname()}-${process.pid}` },
    'claim-idle': { type: 'string', default: '30000' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const role = positionals[0] ?? 'demo';
if (values.help || !['demo', 'producer', 'worker'].includes(role)) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
const { stream, group, errors } = values;

/** Writes `lines` generated access-log lines into the stream. */
async function produce(url: string, lines: number): Promise<void> {
  const sink = redisSink<string>({ url, stream });
  await pipeline(fromIterable(accessLogLines({ seed: 1, lines })), sink);
  console.log(`producer: ${sink.written.toLocaleString('en-US')} lines into ${stream}`);
}

interface Counts {
  consumer: string;
  lines: number;
  errors: number;
  statuses: Record<string, number>;
  redelivered: number;
  claimed: number;
}

/** One consumer of the group: counts statuses, copies 5xx lines to the errors stream; drains on SIGINT/SIGTERM. */
async function work(url: string): Promise<Counts> {
  const counts: Counts = { consumer: values.consumer, lines: 0, errors: 0, statuses: {}, redelivered: 0, claimed: 0 };
  const source = redisSource<string>({ url, stream, group, consumer: values.consumer, claimIdle: Number(values['claim-idle']) });
  const drain = (): void => source.drain();
  process.once('SIGINT', drain).once('SIGTERM', drain);
  // Started by the demo: it waits for this before it produces (and, later, signals).
  process.send?.('ready');
  process.channel?.unref();
  try {
    await pipeline(
      source,
      chain([
        (line: string) => {
          const status = line.split(' ')[8] ?? '?';
          counts.lines++;
          counts.statuses[status] = (counts.statuses[status] ?? 0) + 1;
          // Dropped lines count as done: their entries are acknowledged too.
          return status.startsWith('5') ? line : undefined;
        },
      ]),
      redisSink<string>({ url, stream: errors }),
    );
  } finally {
    process.off('SIGINT', drain).off('SIGTERM', drain);
  }
  counts.errors = Object.entries(counts.statuses).reduce((sum, [status, n]) => (status.startsWith('5') ? sum + n : sum), 0);
  counts.redelivered = source.redelivered;
  counts.claimed = source.claimed;
  return counts;
}

/** A redis-server of the demo's own, on a free port, in a temporary folder. */
async function startServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = net.createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'redis-workers-'));
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const failed = once(server, 'error').then(([error]) => {
    throw new Error(`cannot start redis-server (${(error as Error).message}); install Debian's redis-server package, or give --url`);
  });
  const kill = (): boolean => server.kill('SIGKILL');
  process.once('exit', kill);
  for (let i = 0; ; i++) {
    const up = await Promise.race([
      failed,
      new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => resolve(socket.destroy() !== undefined)).once('error', () => resolve(false));
      }),
    ]);
    if (up) break;
    if (i === 200) throw new Error('redis-server did not start');
    await sleep(25);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      process.off('exit', kill);
      const exited = once(server, 'exit');
      server.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs a worker process of this script; `ready` once it listens for signals, `counts` what it printed (JSON). */
function workerProcess(url: string, i: number): { child: ChildProcess; ready: Promise<unknown>; counts: Promise<Counts> } {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), 'worker', '--url', url, '--consumer', `worker-${i}`, '--json'];
  for (const flag of ['stream', 'group', 'errors', 'claim-idle'] as const) args.push(`--${flag}`, values[flag]);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const ready = once(child, 'message');
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const counts = once(child, 'close').then(([code]) => {
    if (code !== 0) throw new Error(`worker-${i} exited with ${String(code)}`);
    return JSON.parse(out) as Counts;
  });
  return { child, ready, counts };
}

/** The group's pending entries and lag. */
async function groupState(url: string): Promise<{ pending: number; lag: number }> {
  const { createClient } = await import('@redis/client');
  const client = createClient({ url, RESP: 2 });
  client.on('error', () => {});
  await client.connect();
  try {
    const groups = (await client.sendCommand(['XINFO', 'GROUPS', stream])) as unknown[][];
    const info = groups
      .map((flat) => Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, k) => [flat[2 * k], flat[2 * k + 1]])))
      .find((g) => g['name'] === group);
    return { pending: Number(info?.['pending'] ?? 0), lag: info === undefined ? Infinity : Number(info['lag'] ?? Infinity) };
  } catch {
    return { pending: 0, lag: Infinity };
  } finally {
    client.destroy();
  }
}

async function demo(): Promise<void> {
  const lines = Number(values.lines);
  const server = values.url === undefined ? await startServer() : undefined;
  const url = values.url ?? server!.url;
  try {
    const workers = Array.from({ length: Number(values.workers) }, (_, i) => workerProcess(url, i + 1));
    await Promise.all(workers.map((w) => w.ready));
    const started = performance.now();
    await produce(url, lines);
    // Done when the group has been delivered every entry and has acknowledged them all.
    for (let state = await groupState(url); state.lag !== 0 || state.pending !== 0; state = await groupState(url)) await sleep(50);
    for (const { child } of workers) child.kill('SIGTERM');
    const results = await Promise.all(workers.map((w) => w.counts));
    const seconds = (performance.now() - started) / 1000;
    for (const r of results) {
      console.log(`${r.consumer}: ${r.lines.toLocaleString('en-US')} lines, ${r.errors.toLocaleString('en-US')} 5xx, statuses ${JSON.stringify(r.statuses)}`);
    }
    const total = results.reduce((sum, r) => sum + r.lines, 0);
    console.log(`${total.toLocaleString('en-US')} lines by ${results.length} workers in ${seconds.toFixed(1)} s; nothing pending`);
  } finally {
    await server?.stop();
  }
}

const url = values.url ?? 'redis://localhost:6379';
if (role === 'producer') await produce(url, Number(values.lines));
else if (role === 'worker') {
  const counts = await work(url);
  console.log(
    values.json ? JSON.stringify(counts) : `${counts.consumer}: ${counts.lines} lines, ${counts.errors} 5xx, statuses ${JSON.stringify(counts.statuses)}`,
  );
} else await demo();
