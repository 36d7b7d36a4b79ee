// sluice/redis in-process, against a real redis-server started for this file: redisSource,
// redisSink and trimStream, with leakCheck() after every test.
import t from 'tap';
import fc from 'fast-check';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@redis/client';
import { chain, filter, map, parallel } from '../lib/index.js';
import { Checkpoint, isCheckpoint, usesCheckpoints } from '../lib/internal/checkpoint.js';
import { redisSink, redisSource, RedisError, RedisUnavailableError, trimStream, type RedisClient, type RedisEntry } from '../lib/redis/index.js';
import { RedisSource } from '../lib/redis/source.js';
import { thrown, rejection } from './fixtures/helpers.js';
import { clean, dataOf, entriesOf, fill, groupState, numbers, pendingOf, startRedis, until, type RedisServer } from './fixtures/redis.js';

// A redis-server, then every test's pipelines: a few seconds on a loaded machine.
t.setTimeout(90_000);

let server: RedisServer;
t.before(async () => {
  server = await startRedis();
});
t.teardown(() => server?.stop());

let keys = 0;
/** Fresh key names for a test. */
function names(): { stream: string; out: string; group: string } {
  const n = ++keys;
  return { stream: `in${n}`, out: `out${n}`, group: `g${n}` };
}

/**
 * A sink of the test's own that resolves checkpoints as a pipeline's end does: a checkpoint written
 * to it is resolved once every earlier write was called back (Writable writes one at a time).
 */
class Collect extends Writable {
  readonly items: unknown[] = [];
  checkpoints = 0;
  constructor(
    readonly onItem: (item: unknown, sink: Collect) => void | Promise<void> = () => {},
    readonly onCheckpoint: () => void = () => {},
  ) {
    super({ objectMode: true, highWaterMark: 4 });
  }

  override _write(item: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (isCheckpoint(item)) {
      this.checkpoints++;
      item.resolve();
      this.onCheckpoint();
      callback();
      return;
    }
    Promise.resolve(this.onItem(item, this)).then(() => {
      this.items.push(item);
      callback();
    }, callback);
  }
}

t.test('redisSource() refuses unknown options, bad values, and group options without a group', async (t) => {
  const url = 'redis://127.0.0.1:1';
  const refuse = (options: unknown, Kind: typeof TypeError | typeof RangeError, message: RegExp): void => {
    const error = thrown(() => redisSource(options as never));
    t.type(error, Kind);
    t.match((error as Error).message, message);
  };
  refuse(undefined, TypeError, /^redisSource\(\): options must be an object with a stream, got undefined/);
  refuse({ url, stream: 'a', grup: 'g' }, TypeError, /options\.grup is not an option \(did you mean "group"\?\)/);
  refuse({ url, stream: '' }, TypeError, /options\.stream must be a non-empty string, got "" \(string\)/);
  refuse({ url, stream: 'a', group: 'g', count: 0 }, RangeError, /options\.count must be an integer >= 1, got 0 \(number\)/);
  refuse({ url, stream: 'a', group: 'g', maxInFlight: 1.5 }, RangeError, /options\.maxInFlight must be an integer >= 1, got 1\.5/);
  refuse({ url, stream: 'a', group: 'g', claimIdle: -1 }, RangeError, /options\.claimIdle must be a number of milliseconds > 0/);
  refuse({ url, stream: 'a', group: 'g', block: 2 ** 31 }, RangeError, /options\.block must be a number of milliseconds/);
  refuse({ url, stream: 'a', group: 'g', maxDeliveries: 0 }, RangeError, /options\.maxDeliveries must be an integer >= 1 or Infinity, got 0/);
  refuse({ url, stream: 'a', group: 'g', start: 'latest' }, TypeError, /options\.start must be '0', '\$' or an entry id, got "latest"/);
  refuse({ url, stream: 'a', group: 'g', decode: 'data' }, TypeError, /options\.decode must be a function/);
  refuse({ url, stream: 'a', group: 'g', follow: true }, TypeError, /options\.follow is for reading without options\.group/);
  refuse({ url, stream: 'a', claimIdle: 100 }, TypeError, /options\.claimIdle needs options\.group/);
  refuse({ url: 'http://x', stream: 'a' }, TypeError, /options\.url must be a redis:\/\/ or rediss:\/\/ URL, got "http:\/\/x"/);
  refuse({ url, client: {}, stream: 'a' }, TypeError, /options\.url and options\.client cannot both be given/);
  refuse({ client: { sendCommand: 1 }, stream: 'a' }, TypeError, /options\.client must be a node-redis client/);
  refuse({ url, stream: 'a', reconnectTimeout: 0 }, RangeError, /options\.reconnectTimeout must be a number of milliseconds > 0/);
  refuse({ url, stream: 'a', highWaterMark: -1 }, RangeError, /options\.highWaterMark must be an integer >= 0/);
});

t.test('redisSource() processes a backlog through a consumer group, acknowledging every entry once redisSink() confirmed it', async (t) => {
  const { stream, out, group } = names();
  await fill(server.admin, stream, numbers(500));
  await clean(t, async () => {
    const source = redisSource({ url: server.url, stream, group, consumer: 'c1', count: 64 });
    t.ok(source[usesCheckpoints], 'it writes checkpoints');
    const sink = redisSink({ url: server.url, stream: out });
    t.ok(sink[usesCheckpoints], 'the sink resolves them');
    const done = pipeline(
      source,
      map((s: string) => `x${s}`),
      sink,
    );
    await until(() => source.acked === 500, 'every entry acknowledged');
    source.drain();
    await done;
    t.same(
      await dataOf(server.admin, out),
      numbers(500).map((s) => `x${s}`),
      'every entry in the sink, in order',
    );
    t.same(await groupState(server.admin, stream, group), { pending: 0, lag: 0, lastDelivered: (await entriesOf(server.admin, stream)).at(-1)!.id });
    t.same([source.delivered, source.acked, source.redelivered, source.claimed, source.deadLettered, source.inFlight], [500, 500, 0, 0, 0, 0]);
    t.equal(sink.written, 500);
  });
});

t.test("redisSource() with start '$' creates the group after the backlog", async (t) => {
  const { stream, group } = names();
  await fill(server.admin, stream, numbers(5));
  await clean(t, async () => {
    const source = redisSource({ url: server.url, stream, group, start: '$', block: 50 });
    const sink = new Collect();
    const done = pipeline(source, sink);
    await until(async () => (await groupState(server.admin, stream, group)).lag === 0, 'the group exists');
    await fill(server.admin, stream, ['new']);
    await until(() => source.acked === 1, 'the new entry acknowledged');
    source.drain();
    await done;
    t.same(sink.items, ['new']);
  });
});

t.test('redisSource() acknowledges an entry only after the end of the pipeline called back every write before its checkpoint', async (t) => {
  const { stream, group } = names();
  await fill(server.admin, stream, numbers(120));
  await clean(t, async () => {
    const source = redisSource({ url: server.url, stream, group, count: 7, maxInFlight: 30, block: 50 });
    // Entries 0 … done - 1 are finished: called back by the sink, or filtered out before it.
    let done = 0;
    let early = 0;
    const sink = new Collect(async (item) => {
      // One more may be done: a filtered entry right after the last one called back.
      if (source.acked > done + 1) early++;
      t.ok(source.inFlight <= 30, 'never more than maxInFlight out');
      await sleep(Number(item) % 10 === 1 ? 2 : 0);
      done = Number(item) + 1;
    });
    const run = pipeline(
      source,
      filter((s: string) => Number(s) % 3 !== 0),
      map(async (s: string) => s),
      sink,
    );
    await until(() => source.acked === 120, 'all acknowledged');
    source.drain();
    await run;
    t.equal(early, 0, 'no entry acknowledged before the sink was done with it');
    t.equal(sink.items.length, 80, 'filtered entries are gone from the output…');
    t.same((await groupState(server.admin, stream, group)).pending, 0, '…and acknowledged');
    t.ok(sink.checkpoints > 0);
  });
});

t.test('redisSource() delivers every entry exactly once through chain() and parallel(), ordered or not (property)', async (t) => {
  await clean(t, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 150 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 80 }),
        fc.boolean(),
        async (n, count, maxInFlight, ordered) => {
          const { stream, out, group } = names();
          await fill(server.admin, stream, numbers(n));
          const source = redisSource({ url: server.url, stream, group, count, maxInFlight, block: 20 });
          const done = pipeline(
            source,
            chain([(s: string) => Number(s), (x: number) => (x % 5 === 4 ? undefined : x)]),
            parallel(async (x: number) => (x % 2 === 0 ? x : (await sleep(1), x)), { concurrency: 4, ordered }),
            map((x: number) => String(x)),
            redisSink({ url: server.url, stream: out }),
          );
          await until(() => source.acked === n, 'all acknowledged');
          source.drain();
          await done;
          const got = (await dataOf(server.admin, out)).map(Number).sort((a, b) => a - b);
          const want = numbers(n)
            .map(Number)
            .filter((x) => x % 5 !== 4);
          if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`got ${got.length} entries, want ${want.length}`);
          const state = await groupState(server.admin, stream, group);
          if (state.pending !== 0 || state.lag !== 0) throw new Error(`left ${state.pending} pending, lag ${state.lag}`);
        },
      ),
      { numRuns: 8 },
    );
  });
});

t.test('redisSource() takes back its own pending entries first after a restart', async (t) => {
  const { stream, group } = names();
  await fill(server.admin, stream, numbers(30));
  await server.admin.sendCommand(['XGROUP', 'CREATE', stream, group, '0']);
  // A crashed run of the same consumer: 10 delivered, never acknowledged.
  await server.admin.sendCommand(['XREADGROUP', 'GROUP', group, 'c1', 'COUNT', '10', 'STREAMS', stream, '>']);
  await clean(t, async () => {
    const source = redisSource({ url: server.url, stream, group, consumer: 'c1', count: 4, block: 50 });
    const sink = new Collect();
    const done = pipeline(source, sink);
    await until(() => source.acked === 30, 'all acknowledged');
    source.drain();
    await done;
    t.same(sink.items, numbers(30), 'the pending ones first, then the rest, each once');
    t.equal(source.redelivered, 10);
    t.equal(source.claimed, 0);
  });
});

t.test('redisSource() claims the entries of a consumer that died once they are idle for claimIdle', async (t) => {
  const { stream, group } = names();
  await fill(server.admin, stream, numbers(20));
  await server.admin.sendCommand(['XGROUP', 'CREATE', stream, group, '0']);
  await server.admin.sendCommand(['XREADGROUP', 'GROUP', group, 'dead', 'COUNT', '8', 'STREAMS', stream, '>']);
  await clean(t, async () => {
    const source = redisSource({ url: server.url, stream, group, consumer: 'alive', claimIdle: 150, block: 50 });
    const sink = new Collect();
    const done = pipeline(source, sink);
    await until(() => source.acked === 20, 'all acknowledged');
    source.drain();
    await done;
    t.same(
      [...sink.items].sort((a, b) => Number(a) - Number(b)),
      numbers(20),
    );
    t.equal(source.claimed, 8);
    t.equal(source.redelivered, 8);
    t.same(await pendingOf(server.admin, stream, group), []);
  });
});

t.test('redisSource() keeps its own slow entries from being claimed by others', async (t) => {
  const { stream, group } = names();
  await fill(server.admin, stream, numbers(6));
  await clean(t, async () => {
    const source = redisSource({ url: server.url, stream, group, consumer: 'slow', claimIdle: 200, block: 50 });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sink = new Collect(() => gate);
    const done = pipeline(source, sink);
    await until(() => source.inFlight === 6, 'all delivered');
    // Another consumer tries, for well over claimIdle, to claim what has been idle for claimIdle.
    const stolen: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      await sleep(80);
      const [, entries] = (await server.admin.sendCommand(['XAUTOCLAIM', stream, group, 'thief', '200', '0-0'])) as [string, unknown[]];
      stolen.push(...entries);
    }
    release();
    await until(() => source.acked === 6, 'all acknowledged');
    source.drain();
    await done;
    t.same(stolen, [], 'nothing was claimed from it');
  });
});

t.test('redisSource() dead-letters an entry after maxDeliveries deliveries, with the error release() noted', async (t) => {
  const { stream, out, group } = names();
  await fill(server.admin, stream, [...numbers(10), 'poison', ...numbers(10, 10)]);
  await clean(t, async () => {
    const source = redisSource({ url: server.url, stream, group, consumer: 'c1', claimIdle: 60, maxDeliveries: 3, withIds: true, block: 50 });
    let attempts = 0;
    const work = parallel(
      (entry: RedisEntry<string>) => {
        if (entry.data === 'poison') {
          attempts++;
          throw new Error(`cannot digest ${entry.data}`);
        }
        return entry.data;
      },
      { concurrency: 2, onError: (error, entry) => source.release(entry.id, error) },
    );
    const done = pipeline(source, work, redisSink({ url: server.url, stream: out }));
    await until(() => source.deadLettered === 1 && source.inFlight === 0, 'the poison entry dead-lettered');
    source.drain();
    await done;
    t.equal(attempts, 3, 'tried maxDeliveries times');
    t.same((await dataOf(server.admin, out)).sort(), numbers(20).sort(), 'everything else processed');
    const [dead, ...more] = await entriesOf(server.admin, `${stream}:dlq`);
    t.same(more, []);
    const poisonId = (await entriesOf(server.admin, stream))[10]!.id;
    t.same(dead!.fields, { data: 'poison', error: 'Error: cannot digest poison', deliveries: '4', group, 'entry-id': poisonId });
    t.same(await pendingOf(server.admin, stream, group), [], 'acknowledged after it was dead-lettered');
    t.equal(await server.admin.sendCommand(['EXISTS', `${stream}:dlq:error:${group}:${poisonId}`]), 0, 'the note is gone');
    t.equal(source.released, 3);
  });
});

t.test('redisSource() deadLetter() writes the entry to the dead-letter stream at once, then acknowledges it with its batch', async (t) => {
  const { stream, group } = names();
  await fill(server.admin, stream, ['a', 'bad', 'c']);
  await clean(t, async () => {
    const source = redisSource({ url: server.url, stream, group, deadLetter: 'dead', withIds: true, block: 50 });
    let late: unknown;
    const sink = new Collect(undefined, () => {
      // Too late: the batch's checkpoint has just been resolved.
      late ??= thrown(() => source.release(ids[0]!, 'x'));
    });
    const ids: string[] = [];
    const work = map((entry: RedisEntry<string>) => {
      ids.push(entry.id);
      if (entry.data === 'bad') throw new TypeError('bad entry');
      return entry.data;
    });
    const guarded = chain([work], { onError: (error, entry) => source.deadLetter((entry as RedisEntry<string>).id, error) });
    const done = pipeline(source, guarded, sink);
    await until(() => source.acked === 3, 'all acknowledged');
    source.drain();
    await done;
    t.same(sink.items, ['a', 'c']);
    t.match(late, { message: /^redisSource\(\): release\(id\): entry "[\d-]+" is done already \(its batch is acknowledged\)$/ });
    const [dead] = await entriesOf(server.admin, 'dead');
    t.match(dead!.fields, { data: 'bad', error: 'TypeError: bad entry', deliveries: '1', group });
    t.equal(source.deadLettered, 1);
    t.throws(() => source.deadLetter('1-1', 'x'), RangeError, 'an id not in flight is refused');
  });
});

t.test('redisSource() fails with a RedisError, and leaves the entry pending, when the dead-letter stream refuses it', async (t) => {
  const { stream, group } = names();
  await fill(server.admin, stream, ['a', 'bad', 'c']);
  await server.admin.sendCommand(['SET', 'not-a-stream', 'x']);
  await clean(t, async () => {
    const source = redisSource({ url: server.url, stream, group, deadLetter: 'not-a-stream', withIds: true, block: 50 });
    const sink = new Collect((entry) => {
      if ((entry as RedisEntry<string>).data === 'bad') source.deadLetter((entry as RedisEntry<string>).id, new Error('bad'));
    });
    const error = await rejection(pipeline(source, sink));
    t.type(error, RedisError);
    t.equal((error as RedisError).code, 'ERR_SLUICE_REDIS');
    t.equal((error as RedisError).command, 'XADD');
    t.match((error as Error).message, /^redisSource\(\): XADD on "not-a-stream" failed: WRONGTYPE/);
    const pending = await pendingOf(server.admin, stream, group);
    t.ok(
      pending.some(({ id }) => id === (sink.items as RedisEntry<string>[]).find((e) => e.data === 'bad')?.id),
      'the entry is still pending',
    );
  });
});

t.test('redisSource() drain() cuts a blocked read short, lets in-flight entries finish, acknowledges them and ends', async (t) => {
  const { stream, out, group } = names();
  await clean(t, async () => {
    // A read blocks for a minute: only CLIENT UNBLOCK can end the run before the test times out.
    const source = redisSource({ url: server.url, stream, group, consumer: 'c1', count: 5, block: 60_000 });
    const done = pipeline(
      source,
      map(async (s: string) => (await sleep(5), s)),
      redisSink({ url: server.url, stream: out }),
    );
    await fill(server.admin, stream, numbers(40));
    await until(() => source.delivered > 0, 'reading');
    source.drain();
    await done;
    const written = await dataOf(server.admin, out);
    t.same(written, numbers(source.delivered), 'what was delivered was processed once, in order');
    t.same(await pendingOf(server.admin, stream, group, 'c1'), [], 'nothing left pending for it');
    t.equal(source.acked, source.delivered);
  });
});

t.test('redisSource() destroyed by an abort stops at once; what was not acknowledged is delivered again', async (t) => {
  const { stream, out, group } = names();
  await fill(server.admin, stream, numbers(50));
  await clean(t, async () => {
    const controller = new AbortController();
    const source = redisSource({ url: server.url, stream, group, consumer: 'c1', count: 10, block: 50, signal: controller.signal });
    const sink = new Collect(async (_item, self) => {
      if (self.items.length === 15) controller.abort(new Error('stop now'));
      await sleep(1);
    });
    const error = await rejection(pipeline(source, sink));
    t.match(error, { message: 'stop now' });
    t.ok(source.destroyed);
    const unacked = source.delivered - source.acked;
    t.ok(unacked > 0, 'some entries were left unacknowledged');

    const again = redisSource({ url: server.url, stream, group, consumer: 'c1', block: 50 });
    const done = pipeline(again, redisSink({ url: server.url, stream: out }));
    await until(() => again.acked >= 50 - source.acked, 'the rest acknowledged');
    again.drain();
    await done;
    t.equal(again.redelivered, unacked, 'the unacknowledged ones came back first');
    const seen = new Set([...sink.items, ...(await dataOf(server.admin, out))]);
    t.equal(seen.size, 50, 'every entry was processed');
  });
});

t.test('redisSource() without a group reads the whole stream and ends; with follow it goes on until drained', async (t) => {
  const { stream } = names();
  await fill(server.admin, stream, numbers(25));
  await clean(t, async () => {
    const whole = redisSource({ url: server.url, stream, count: 7 });
    t.notOk(whole[usesCheckpoints], 'no checkpoints without a group');
    const items: unknown[] = [];
    for await (const item of whole) items.push(item);
    t.same(items, numbers(25));

    const fromNow = redisSource({ url: server.url, stream, start: '$' });
    t.same(await fromNow.toArray(), [], "start '$' without follow: nothing");

    const followed = redisSource({ url: server.url, stream, start: '$', follow: true, block: 30 });
    const got: unknown[] = [];
    const reading = (async () => {
      for await (const item of followed.items()) {
        got.push(item);
        if (got.length === 3) followed.drain();
      }
    })();
    await sleep(20);
    await fill(server.admin, stream, ['a', 'b', 'c']);
    await reading;
    t.same(got, ['a', 'b', 'c']);

    const missing = redisSource({ url: server.url, stream: 'no-such-stream' });
    t.same(await missing.toArray(), [], 'a missing stream is empty');
  });
});

t.test('redisSource() decode() makes items from the fields and id; withIds wraps them with the id', async (t) => {
  const { stream, group } = names();
  const [id1, id2] = await fill(server.admin, stream, ['one', 'two']);
  await server.admin.sendCommand(['XADD', stream, '*', 'a', '1', 'b', '2']);
  await clean(t, async () => {
    t.same(await redisSource({ url: server.url, stream }).toArray(), ['one', 'two', { a: '1', b: '2' }], 'data, or all the fields');
    const decoded = await redisSource({
      url: server.url,
      stream,
      decode: (fields, id) => (fields['a'] === '1' ? undefined : `${id}:${fields['data']}`),
    }).toArray();
    t.same(decoded, [`${id1}:one`, `${id2}:two`], 'undefined drops');
    const source = redisSource({ url: server.url, stream, group, withIds: true, block: 50 });
    const sink = new Collect();
    const done = pipeline(source, sink);
    await until(() => source.acked === 3, 'all acknowledged');
    source.drain();
    await done;
    t.same((sink.items as RedisEntry<unknown>[]).slice(0, 2), [
      { id: id1, data: 'one' },
      { id: id2, data: 'two' },
    ]);
  });
});

t.test('redisSource() items() acknowledges a batch when the loop asks for the item after it', async (t) => {
  const { stream, group } = names();
  await fill(server.admin, stream, numbers(9));
  await clean(t, async () => {
    const source = redisSource({ url: server.url, stream, group, count: 3, block: 50 });
    const seen: unknown[] = [];
    for await (const item of source.items()) {
      t.ok(source.acked <= seen.length, 'nothing acknowledged before the loop finished with it');
      seen.push(item);
      if (seen.length === 9) {
        await until(() => source.acked === 6, 'the first two batches acknowledged');
        source.drain();
      }
    }
    t.same(seen, numbers(9));
    t.equal(source.acked, 9, 'the last batch too, as the loop ended');
  });
});

t.test('redisSource() and redisSink() use a client they are given (RESP3 too) and leave it open', async (t) => {
  const { stream, out, group } = names();
  await fill(server.admin, stream, numbers(10));
  // A node-redis client as users make it (RESP3 by default): no cast needed.
  const client: RedisClient = createClient({ url: server.url });
  client.on('error', () => {});
  await client.connect();
  await clean(t, async () => {
    const source = redisSource({ client, stream, group, count: 3, block: 50, claimIdle: 100 });
    const done = pipeline(source, redisSink({ client, stream: out }));
    await until(() => source.acked === 10, 'all acknowledged');
    source.drain();
    await done;
    t.ok(client.isOpen, 'still open');
    t.same(await dataOf(server.admin, out), numbers(10));
    const { removed } = await trimStream({ client, stream });
    t.equal(removed, 10, 'trimStream() reads RESP3 replies too');
  });
  client.destroy();
});

t.test('redisSource() fails with a RedisError when the key is not a stream', async (t) => {
  await server.admin.sendCommand(['SET', 'plain-key', 'x']);
  await clean(t, async () => {
    const error = await rejection(pipeline(redisSource({ url: server.url, stream: 'plain-key', group: 'g' }), new Collect()));
    t.type(error, RedisError);
    t.equal((error as RedisError).command, 'XGROUP CREATE');
  });
});

t.test('redisSource() and redisSink() fail with a RedisUnavailableError when Redis cannot be reached', async (t) => {
  await clean(t, async () => {
    for (const stage of [
      redisSource({ url: 'redis://127.0.0.1:1', stream: 's', reconnectTimeout: 200 }),
      redisSink({ url: 'redis://127.0.0.1:1', stream: 's', reconnectTimeout: 200 }),
    ]) {
      const error = await rejection(stage instanceof RedisSource ? pipeline(stage, new Collect()) : pipeline([1], stage));
      t.type(error, RedisUnavailableError);
      t.equal((error as RedisUnavailableError).code, 'ERR_SLUICE_REDIS_UNAVAILABLE');
      t.match((error as Error).message, /no answer from Redis to connect for 200 ms: connect ECONNREFUSED/);
    }
  });
});

t.test('redisSink() refuses unknown options and bad values', async (t) => {
  for (const [options, message] of [
    [undefined, /^redisSink\(\): options must be an object with a stream, got undefined/],
    [{ stream: 's', maxlen: 5 }, /options\.maxlen is not an option \(did you mean "maxLen"\?\)/],
    [{ stream: 1 }, /options\.stream must be a non-empty string, got 1 \(number\)/],
    [{ stream: 's', maxLen: 0 }, /options\.maxLen must be an integer >= 1, got 0/],
    [{ stream: 's', encode: {} }, /options\.encode must be a function/],
  ] as const) {
    t.throws(() => redisSink(options as never), message);
  }
});

t.test('redisSink() adds strings and Buffers as data, other values as JSON, or the fields encode() gives', async (t) => {
  const { out } = names();
  await clean(t, async () => {
    await pipeline(['text', Buffer.from('bytes'), { n: 1 }, [2]], redisSink({ url: server.url, stream: out }));
    t.same(await dataOf(server.admin, out), ['text', 'bytes', '{"n":1}', '[2]']);
    await pipeline(
      [{ n: 1, s: 'a' }],
      redisSink({ url: server.url, stream: `${out}b`, encode: (item: { n: number; s: string }) => ({ n: item.n, s: item.s }) }),
    );
    t.same((await entriesOf(server.admin, `${out}b`))[0]!.fields, { n: '1', s: 'a' });
    const bad = await rejection(pipeline([1], redisSink({ url: server.url, stream: out, encode: () => ({}) })));
    t.match(bad, { message: /options\.encode\(item\) must be an object with at least one field/ });
  });
});

t.test('redisSink() trims the stream to about maxLen', async (t) => {
  const { out } = names();
  await clean(t, async () => {
    await pipeline(numbers(2000), redisSink({ url: server.url, stream: out, maxLen: 100 }));
    const length = Number(await server.admin.sendCommand(['XLEN', out]));
    t.ok(length >= 100 && length < 2000, `about 100 kept (${length})`);
  });
});

t.test('redisSink() resolves a checkpoint once every write before it is in Redis', async (t) => {
  const { out } = names();
  await clean(t, async () => {
    const lengths: number[] = [];
    const items: unknown[] = [];
    for (let i = 0; i < 300; i++) {
      items.push(String(i));
      if (i % 50 === 49) {
        const written = i + 1;
        items.push(new Checkpoint(() => void server.admin.sendCommand(['XLEN', out]).then((n) => lengths.push(Number(n) - written))));
      }
    }
    await pipeline(items, redisSink({ url: server.url, stream: out, highWaterMark: 16 }));
    await until(() => lengths.length === 6, 'every checkpoint resolved');
    t.ok(
      lengths.every((extra) => extra >= 0),
      'each saw its writes in the stream',
    );
  });
});

t.test('redisSink() fails with a RedisError when Redis refuses a write', async (t) => {
  await server.admin.sendCommand(['SET', 'string-key', 'x']);
  await clean(t, async () => {
    const error = await rejection(pipeline(['a', 'b', 'c'], redisSink({ url: server.url, stream: 'string-key' })));
    t.type(error, RedisError);
    t.match((error as Error).message, /^redisSink\(\): XADD on "string-key" failed: WRONGTYPE/);
  });
});

t.test('trimStream() removes only the entries every group is done with', async (t) => {
  const { stream } = names();
  const ids = await fill(server.admin, stream, numbers(60));
  const admin = server.admin;
  await admin.sendCommand(['XGROUP', 'CREATE', stream, 'a', '0']);
  await admin.sendCommand(['XGROUP', 'CREATE', stream, 'b', '0']);
  // a: 50 delivered, all acknowledged but 20, 21, 22. b: 40 delivered and acknowledged.
  await admin.sendCommand(['XREADGROUP', 'GROUP', 'a', 'x', 'COUNT', '50', 'STREAMS', stream, '>']);
  await admin.sendCommand(['XACK', stream, 'a', ...ids.slice(0, 50).filter((_, i) => i < 20 || i > 22)]);
  await admin.sendCommand(['XREADGROUP', 'GROUP', 'b', 'y', 'COUNT', '40', 'STREAMS', stream, '>']);
  await admin.sendCommand(['XACK', stream, 'b', ...ids.slice(0, 40)]);
  await clean(t, async () => {
    t.same(await trimStream({ url: server.url, stream }), { minId: ids[20], removed: 20 }, "below a's oldest pending entry");
    await admin.sendCommand(['XACK', stream, 'a', ...ids.slice(20, 23)]);
    const second = await trimStream({ url: server.url, stream });
    t.equal(second.removed, 20, "then below b's first undelivered entry");
    t.same(await dataOf(admin, stream), numbers(20, 40));
    t.same(await trimStream({ url: server.url, stream: 'missing' }), { minId: undefined, removed: 0 });
    await fill(admin, `${stream}-nogroup`, ['x']);
    t.same(await trimStream({ url: server.url, stream: `${stream}-nogroup` }), { minId: undefined, removed: 0 }, 'no group: left alone');
    t.throws(() => trimStream({ url: server.url, stream: '' } as never), /options\.stream must be a non-empty string/);
  });
});
