// At-least-once under faults, against a real redis-server: consumer processes killed at chosen
// points (and restarted, or left to the others to claim from), a drain on SIGTERM, and a crash and
// restart of redis-server itself (AOF, fsync always) under consumers that must reconnect.
import t from 'tap';
import fc from 'fast-check';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { pipeline } from 'node:stream/promises';
import { map } from '../lib/index.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { redisSink, redisSource } from '../lib/redis/index.js';
import type { WorkerConfig } from './fixtures/redis-worker.js';
import { dataOf, fill, groupState, numbers, pendingOf, startRedis, until, type RedisServer } from './fixtures/redis.js';

// Consumer processes start in about a second each (node + tsx); a few dozen of them here.
t.setTimeout(120_000);

const WORKER = fileURLToPath(new URL('fixtures/redis-worker.ts', import.meta.url));

let server: RedisServer;
t.before(async () => {
  server = await startRedis();
});
t.teardown(() => server?.stop());

interface Worker {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function startWorker(config: WorkerConfig): Worker {
  // Not ours to cover: tap's coverage of lib/ comes from in-process tests (see DEVELOPERS.md).
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(config)], {
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null, stdout, stderr }));
  return { child, exited };
}

let runs = 0;

interface Kill {
  /** Which consumer (never the first of several: someone must be left to claim). */
  who: number;
  /** Where it dies: at its `after`-th item processed, written or acknowledged, or SIGKILLed from here (600 + 5 × `after` × consumers ms after it started). */
  at: 'processed' | 'written' | 'acked' | 'timer';
  after: number;
  /** Started again under the same name (it takes its pending entries back), or left for the others to claim from. */
  restart: boolean;
}

t.test(
  'redisSource() delivers every entry at least once, with at most maxInFlight duplicates per kill, while consumers are SIGKILLed (property)',
  async (t) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 40 }),
        fc.array(
          fc.record({
            who: fc.nat(),
            at: fc.constantFrom('processed', 'written', 'acked', 'timer'),
            // Per cent of the consumer's share of the entries (or, for 'timer', of 500 ms after its start-up).
            after: fc.integer({ min: 1, max: 100 }),
            restart: fc.boolean(),
          }),
          { minLength: 1, maxLength: 2 },
        ),
        async (consumers, count, extra, killList) => {
          const n = 150;
          const maxInFlight = count + extra;
          const run = ++runs;
          const stream = `work${run}`;
          const out = `done${run}`;
          const group = 'workers';
          await fill(server.admin, stream, numbers(n));
          // One kill per consumer, never of consumer 0 when there are others to claim from it.
          const kills = new Map<number, Kill>();
          for (const kill of killList) {
            const who = consumers === 1 ? 0 : 1 + (kill.who % (consumers - 1));
            const after = Math.max(1, Math.floor((kill.after / 100) * 0.5 * (n / consumers)));
            if (!kills.has(who)) kills.set(who, { ...kill, who, after, restart: kill.restart || consumers === 1 });
          }
          const config = (i: number, die: boolean): WorkerConfig => {
            const kill = kills.get(i);
            const base = { url: server.url, stream, out, group, consumer: `c${i}`, count, maxInFlight, claimIdle: 1000, slow: 1 };
            return die && kill !== undefined && kill.at !== 'timer' ? { ...base, die: { at: kill.at, after: kill.after } } : base;
          };
          const workers = Array.from({ length: consumers }, (_, i) => startWorker(config(i, true)));
          const live = new Set(workers);
          let killed = 0;
          let stopping = false;
          const watched = workers.map(async (worker, i) => {
            const kill = kills.get(i);
            if (kill === undefined) return;
            if (kill.at === 'timer') {
              await Promise.race([sleep(600 + kill.after * 5 * consumers), worker.exited]);
              worker.child.kill('SIGKILL');
            }
            const { signal } = await worker.exited;
            // One whose kill point never came exits at the drain, below.
            if (signal !== 'SIGKILL') return;
            live.delete(worker);
            killed++;
            if (kill.restart && !stopping) live.add(startWorker(config(i, false)));
          });
          await until(
            async () => {
              const state = await groupState(server.admin, stream, group);
              return state.pending === 0 && state.lag === 0 && new Set(await dataOf(server.admin, out)).size === n;
            },
            `all ${n} entries done`,
            60_000,
          );
          stopping = true;
          for (const worker of live) worker.child.kill('SIGTERM');
          await Promise.all(watched);
          for (const worker of live) {
            const { code, signal, stderr } = await worker.exited;
            // SIGTERM kills a worker (restarted just now) that has not yet set up its drain: it had nothing.
            if (code !== 0 && signal !== 'SIGKILL' && signal !== 'SIGTERM') throw new Error(`a worker exited with ${code ?? signal}: ${stderr}`);
          }
          const written = await dataOf(server.admin, out);
          const duplicates = written.length - n;
          if (new Set(written).size !== n) throw new Error('an entry never reached the sink');
          if (duplicates > maxInFlight * killed) throw new Error(`${duplicates} duplicates after ${killed} kill(s), maxInFlight ${maxInFlight}`);
          const state = await groupState(server.admin, stream, group);
          if (state.pending !== 0 || state.lag !== 0) throw new Error(`left ${state.pending} pending, lag ${state.lag}`);
          t.pass(`${consumers} consumer(s), COUNT ${count}, maxInFlight ${maxInFlight}, ${killed} kill(s): ${duplicates} duplicate(s)`);
        },
      ),
      { numRuns: 6 },
    );
  },
);

t.test('redisSource() drain() on SIGTERM leaves nothing pending for that consumer and no duplicates', async (t) => {
  const stream = 'drain';
  const out = 'drained';
  const group = 'workers';
  await fill(server.admin, stream, numbers(400));
  const base = { url: server.url, stream, out, group, count: 10, maxInFlight: 40, claimIdle: 30_000, slow: 2 };
  const a = startWorker({ ...base, consumer: 'a' });
  const b = startWorker({ ...base, consumer: 'b' });
  await until(async () => (await dataOf(server.admin, out)).length > 50, 'under way');
  a.child.kill('SIGTERM');
  const { code, stdout, stderr } = await a.exited;
  t.equal(code, 0, stderr);
  t.same(await pendingOf(server.admin, stream, group, 'a'), [], 'nothing left pending for the drained consumer');
  const counters = JSON.parse(stdout) as { delivered: number; acked: number };
  t.equal(counters.acked, counters.delivered, 'it acknowledged everything it was delivered');
  await until(
    async () => (await groupState(server.admin, stream, group)).lag === 0 && (await pendingOf(server.admin, stream, group)).length === 0,
    'the rest done by b',
  );
  b.child.kill('SIGTERM');
  t.equal((await b.exited).code, 0);
  const written = await dataOf(server.admin, out);
  t.equal(written.length, 400, 'no duplicates');
  t.equal(new Set(written).size, 400, 'every entry');
});

t.test('redisSource() and redisSink() reconnect after redis-server is killed (-9) and restarted, and lose nothing (AOF, fsync always)', async (t) => {
  const aof = await startRedis({ aof: true });
  const n = 3000;
  await fill(aof.admin, 'jobs', numbers(n));
  const check = leakCheck({ timeout: 2000 });
  try {
    const consumers = ['a', 'b'].map((consumer) => {
      const source = redisSource({ url: aof.url, stream: 'jobs', group: 'g', consumer, count: 20, block: 100, claimIdle: 2000, reconnectTimeout: 20_000 });
      const done = pipeline(
        source,
        map(async (s: string) => (await sleep(0), s)),
        redisSink({ url: aof.url, stream: 'results', reconnectTimeout: 20_000 }),
      );
      return { source, done };
    });
    await until(() => consumers.every(({ source }) => source.acked > 100), 'both under way');
    await aof.crash();
    await sleep(300);
    await aof.restart();
    await fill(aof.admin, 'jobs', numbers(100, n));
    await until(
      async () => {
        const state = await groupState(aof.admin, 'jobs', 'g');
        return state.pending === 0 && state.lag === 0;
      },
      'every entry acknowledged after the restart',
      60_000,
    );
    for (const { source } of consumers) source.drain();
    await Promise.all(consumers.map(({ done }) => done));
    const written = new Set(await dataOf(aof.admin, 'results'));
    t.equal(written.size, n + 100, 'every entry, from before and after the crash, is in the results');
  } finally {
    // Its restart left a new process and the admin client a new socket: stopped before the check.
    await aof.stop();
    await check.verify();
  }
});

t.test('redisSource() gives up on a blocked read that never answers (redis-server frozen by SIGSTOP) and reads again on a new connection', async (t) => {
  const check = leakCheck({ timeout: 2000 });
  try {
    const source = redisSource({ url: server.url, stream: 'frozen', group: 'g', block: 100, reconnectTimeout: 20_000 });
    const done = pipeline(source, redisSink({ url: server.url, stream: 'thawed' }));
    await fill(server.admin, 'frozen', numbers(10));
    await until(() => source.acked === 10, 'the first entries done');
    // Frozen for longer than a read's BLOCK plus the watchdog's margin (1 s): the read in progress
    // gets no answer, and no error either.
    process.kill(server.pid, 'SIGSTOP');
    await sleep(1500);
    process.kill(server.pid, 'SIGCONT');
    await fill(server.admin, 'frozen', numbers(10, 10));
    await until(() => source.acked === 20, 'the entries added after it thawed done');
    source.drain();
    await done;
    t.same((await dataOf(server.admin, 'thawed')).sort(), numbers(20).sort());
  } finally {
    process.kill(server.pid, 'SIGCONT');
    await check.verify();
  }
});
