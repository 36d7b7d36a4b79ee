/**
 * redis: sluice/redis against hand-written loops on the same client (one @redis/client, RESP2, given
 * to the sluice stages as `client`; a blocking read gets a duplicate of it in both), each run
 * with a redis-server of its own (started in the untimed setup, on a free port; it dies with the run's
 * process). Cases:
 *   consume  a backlog read through a consumer group and acknowledged: redisSource() through an identity
 *            map() into a sink that resolves checkpoints, vs an XREADGROUP COUNT 100 / XACK loop
 *   produce  items added with XADD: redisSink() (batches of up to 128), vs pipelined XADD batches of 128
 *   latency  1,000 entries/s added while a consumer waits (BLOCK): time from XADD to the sink, p50/p99
 *   backlog  a large backlog (`--items` / 2 entries: 5 M by default) drained through a slow stage (1 ms every 100 entries): the slope of RSS
 *            once a quarter is done (flat: about 0 MB/s), beside the peak
 * Needs the redis-server binary (Debian's redis-server package).
 *
 * @module
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { MissingError, type Job, type Scenario, type Work, slope } from './harness.js';

type Kind = 'consume' | 'produce' | 'latency' | 'backlog';

interface Params {
  kind: Kind;
  /** Entries (consume, produce, backlog), or entries per second for `seconds` (latency). */
  entries: number;
  seconds: number;
}

const COUNT = 100;
const BATCH = 128;
const STREAM = 'bench';
const GROUP = 'g';

/** The part of a node-redis client used here. */
interface Client {
  sendCommand(args: string[]): Promise<unknown>;
  multi(): { addCommand(args: string[]): unknown; execAsPipeline(): Promise<unknown> };
  connect(): Promise<unknown>;
  destroy(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

interface Sluice {
  redisSource(options: Record<string, unknown>): Readable & { acked: number; drain(): void };
  redisSink(options: Record<string, unknown>): Writable;
  map(fn: (value: never) => unknown): Writable;
  isCheckpoint: (value: unknown) => value is { resolve(): void };
}

/** The built sluice/redis, map() and the checkpoint marker (dist/ must be built). */
async function loadSluice(): Promise<Sluice> {
  const load = async (path: string): Promise<Record<string, unknown>> => {
    try {
      return (await import(new URL(`../dist/${path}`, import.meta.url).href)) as Record<string, unknown>;
    } catch (err) {
      throw new MissingError(`dist/${path} is not built (npm run build): ${(err as Error).message}`);
    }
  };
  const [redis, index, checkpoint] = await Promise.all([load('redis/index.js'), load('index.js'), load('internal/checkpoint.js')]);
  return { ...redis, map: index['map'], isCheckpoint: checkpoint['isCheckpoint'] } as unknown as Sluice;
}

/** A redis-server for this process: killed by its shell when this process exits (its stdin closes). */
async function startServer(): Promise<string> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = net.createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-redis-'));
  const wrapper = 'exec 3<&0; redis-server "$@" </dev/null & pid=$!; { read _ <&3; kill -9 $pid 2>/dev/null; rm -rf "$DIR"; } & wait $pid';
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const shell = spawn('sh', ['-c', wrapper, 'sh', ...args], { stdio: ['pipe', 'ignore', 'ignore'], env: { ...process.env, DIR: dir } });
  shell.unref();
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(socket.destroy() !== undefined)).once('error', () => resolve(false));
    });
    if (up) return `redis://127.0.0.1:${port}`;
    if (shell.exitCode !== null) break;
    await sleep(25);
  }
  throw new Error("redis-server did not start (is Debian's redis-server package installed?)");
}

async function connect(url: string): Promise<Client> {
  const { createClient } = await import('@redis/client');
  const client = createClient({ url, RESP: 2 }) as unknown as Client;
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** `n` entries (data = 0 … n - 1) and the group, from the first entry. */
async function fill(client: Client, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) {
    const multi = client.multi();
    for (let j = i; j < Math.min(n, i + 1000); j++) multi.addCommand(['XADD', STREAM, '*', 'data', String(j)]);
    await multi.execAsPipeline();
  }
  await client.sendCommand(['XGROUP', 'CREATE', STREAM, GROUP, '0', 'MKSTREAM']);
}

const sumTo = (n: number): number => (n * (n - 1)) / 2;

/** A sink that counts and adds up the numbers, resolving checkpoints as the end of a pipeline does. */
function countingSink(isCheckpoint: Sluice['isCheckpoint'], each?: (value: string) => void): { sink: Writable; work: () => Work } {
  let items = 0;
  let sum = 0;
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 16,
    write(value: unknown, _encoding, callback) {
      if (isCheckpoint(value)) value.resolve();
      else {
        items++;
        sum += Number(value);
        each?.(value as string);
      }
      callback();
    },
  });
  return { sink, work: () => ({ items, check: sum }) };
}

/** Waits (polling each millisecond) for `done`. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await sleep(1);
}

/** p-th percentile of sorted values. */
const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** RSS sampled every 100 ms once a quarter of the work is done; `stop()` gives its slope in MiB/s. */
function rssWatch(progress: () => number): { stop(): number } {
  const samples: Array<[number, number]> = [];
  const timer = setInterval(() => {
    if (progress() >= 0.25) samples.push([performance.now() / 1000, process.memoryUsage.rss() / 2 ** 20]);
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return slope(samples);
    },
  };
}

/** Adds `rate` entries per second for `seconds`, each with the time it was added (field `t`). */
async function produceTimed(client: Client, rate: number, seconds: number): Promise<void> {
  const total = rate * seconds;
  const start = performance.now();
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    const adds: Promise<unknown>[] = [];
    for (; sent < due; sent++)
      adds.push(client.sendCommand(['XADD', STREAM, '*', 'data', String(sent), 't', String(performance.timeOrigin + performance.now())]));
    await Promise.all(adds);
    await sleep(1);
  }
}

const now = (): number => performance.timeOrigin + performance.now();

/** What a latency run reports: p50/p99 from the sorted latencies. */
function latencyWork(latencies: number[], sum: number): Work {
  latencies.sort((a, b) => a - b);
  return { items: latencies.length, check: sum, extra: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) } };
}

/** The slow stage of the backlog case: 1 ms every 100 entries. */
function slow(): (value: string) => Promise<string> | string {
  let n = 0;
  return (value) => (++n % 100 === 0 ? sleep(1).then(() => value) : value);
}

export const scenario: Scenario<Params> = {
  description: 'Redis Streams: consumer-group reads with acknowledgements, XADD writes, latency, memory under a backlog',
  unit: 'entries',
  async prepare({ quick, items }) {
    const kases: Array<{ kind: Kind; title: string; entries: number; seconds: number }> = [
      { kind: 'consume', title: `a backlog read through a consumer group, COUNT ${COUNT}, acknowledged`, entries: quick ? 50_000 : 500_000, seconds: 0 },
      { kind: 'produce', title: `items added with XADD, pipelined ${BATCH} at a time`, entries: quick ? 50_000 : 500_000, seconds: 0 },
      { kind: 'latency', title: 'XADD → sink while 1,000 entries/s are added', entries: 1000, seconds: quick ? 2 : 10 },
      {
        kind: 'backlog',
        title: 'a backlog drained through a slow stage (1 ms every 100 entries)',
        entries: quick ? 50_000 : Math.round(items / 2),
        seconds: 0,
      },
    ];
    return kases.map(({ kind, title, entries, seconds }) => {
      const items = kind === 'latency' ? entries * seconds : entries;
      return { name: kind, title, params: { kind, entries, seconds }, items, expect: { items, check: sumTo(items) } };
    });
  },
  variants: [
    {
      name: 'hand-written loop',
      async setup({ kind, entries, seconds }): Promise<Job> {
        const url = await startServer();
        const client = await connect(url);
        if (kind === 'produce') {
          return async () => {
            for (let i = 0; i < entries; i += BATCH) {
              const multi = client.multi();
              for (let j = i; j < Math.min(entries, i + BATCH); j++) multi.addCommand(['XADD', STREAM, '*', 'data', String(j)]);
              await multi.execAsPipeline();
            }
            const added = Number(await client.sendCommand(['XLEN', STREAM]));
            return { items: added, check: sumTo(added) };
          };
        }
        if (kind === 'latency') {
          await client.sendCommand(['XGROUP', 'CREATE', STREAM, GROUP, '$', 'MKSTREAM']);
          const reader = await connect(url);
          return async () => {
            const total = entries * seconds;
            const latencies: number[] = [];
            let sum = 0;
            const producing = produceTimed(client, entries, seconds);
            while (latencies.length < total) {
              const reply = (await reader.sendCommand(['XREADGROUP', 'GROUP', GROUP, 'c', 'COUNT', String(COUNT), 'BLOCK', '1000', 'STREAMS', STREAM, '>'])) as
                | [string, [string, string[]][]][]
                | null;
              const batch = reply?.[0]?.[1] ?? [];
              for (const [, fields] of batch) {
                latencies.push(now() - Number(fields[3]));
                sum += Number(fields[1]);
              }
              if (batch.length > 0) await client.sendCommand(['XACK', STREAM, GROUP, ...batch.map(([id]) => id)]);
            }
            await producing;
            return latencyWork(latencies, sum);
          };
        }
        await fill(client, entries);
        const stage = kind === 'backlog' ? slow() : (value: string): string => value;
        return async () => {
          let items = 0;
          let sum = 0;
          const watch = rssWatch(() => items / entries);
          for (;;) {
            const reply = (await client.sendCommand(['XREADGROUP', 'GROUP', GROUP, 'c', 'COUNT', String(COUNT), 'STREAMS', STREAM, '>'])) as
              | [string, [string, string[]][]][]
              | null;
            const batch = reply?.[0]?.[1] ?? [];
            if (batch.length === 0) break;
            for (const [, fields] of batch) {
              sum += Number(await stage(fields[1]!));
              items++;
            }
            await client.sendCommand(['XACK', STREAM, GROUP, ...batch.map(([id]) => id)]);
          }
          return { items, check: sum, extra: { rssSlope: watch.stop() } };
        };
      },
    },
    {
      name: 'sluice redisSource() / redisSink()',
      sluice: true,
      async setup({ kind, entries, seconds }): Promise<Job> {
        const { redisSource, redisSink, map, isCheckpoint } = await loadSluice();
        const url = await startServer();
        const client = await connect(url);
        if (kind === 'produce') {
          return async () => {
            function* items(): Generator<string> {
              for (let i = 0; i < entries; i++) yield String(i);
            }
            await pipeline(Readable.from(items()), redisSink({ client, stream: STREAM }));
            const added = Number(await client.sendCommand(['XLEN', STREAM]));
            return { items: added, check: sumTo(added) };
          };
        }
        if (kind === 'latency') {
          await client.sendCommand(['XGROUP', 'CREATE', STREAM, GROUP, '$', 'MKSTREAM']);
          return async () => {
            const total = entries * seconds;
            const latencies: number[] = [];
            let sum = 0;
            const source = redisSource({
              client,
              stream: STREAM,
              group: GROUP,
              consumer: 'c',
              count: COUNT,
              block: 1000,
              decode: (fields: Record<string, string>) => fields,
            });
            const sink = new Writable({
              objectMode: true,
              write(value: unknown, _encoding, callback) {
                if (isCheckpoint(value)) value.resolve();
                else {
                  const fields = value as Record<string, string>;
                  latencies.push(now() - Number(fields['t']));
                  sum += Number(fields['data']);
                }
                callback();
              },
            });
            const done = pipeline(
              source,
              map((value: never) => value),
              sink,
            );
            await produceTimed(client, entries, seconds);
            await until(() => source.acked === total);
            source.drain();
            await done;
            return latencyWork(latencies, sum);
          };
        }
        await fill(client, entries);
        return async () => {
          const { sink, work } = countingSink(isCheckpoint);
          const source = redisSource({ client, stream: STREAM, group: GROUP, consumer: 'c', count: COUNT });
          const watch = rssWatch(() => source.acked / entries);
          const done = pipeline(source, map(kind === 'backlog' ? (slow() as (value: never) => unknown) : (value: never) => value), sink);
          await until(() => source.acked === entries);
          source.drain();
          await done;
          return { ...work(), extra: { rssSlope: watch.stop() } };
        };
      },
    },
  ],
  columns: [
    { key: 'p50', label: 'XADD→sink p50', format: (v) => `${v.toFixed(2)} ms` },
    { key: 'p99', label: 'XADD→sink p99', format: (v) => `${v.toFixed(2)} ms` },
    { key: 'rssSlope', label: 'RSS slope after ¼', format: (v) => `${v.toFixed(2)} MB/s` },
  ],
  targets: [
    { case: 'consume', variant: 'sluice redisSource() / redisSink()', vs: 'hand-written loop', atLeast: 0.8 },
    { case: 'produce', variant: 'sluice redisSource() / redisSink()', vs: 'hand-written loop', atLeast: 0.8 },
    { case: 'latency', variant: 'sluice redisSource() / redisSink()', extraUnder: ['p99', 5] },
    { case: 'backlog', variant: 'sluice redisSource() / redisSink()', extraUnder: ['rssSlope', 1] },
    { case: 'backlog', variant: 'sluice redisSource() / redisSink()', rssUnderMB: 200 },
  ],
};
