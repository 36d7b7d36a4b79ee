// What the command needs for --from/--to redis://… (lib/cli/redis.ts), and examples/redis-workers.ts,
// against a real redis-server started for this file.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { chain } from '../lib/index.js';
import { isRedisTarget, parseRedisTarget, redisInput, redisInputOptions, redisOutput, type RedisInputFlags } from '../lib/cli/redis.js';
import { UsageError } from '../lib/cli/errors.js';
import { root } from './fixtures/cli.js';
import { thrown } from './fixtures/helpers.js';
import { clean, dataOf, entriesOf, fill, groupState, pendingOf, startRedis, until, type RedisServer } from './fixtures/redis.js';

// The example runs as processes of its own (node + tsx, a few seconds on a loaded machine).
t.setTimeout(90_000);

let server: RedisServer;
t.before(async () => {
  server = await startRedis();
});
t.teardown(() => server?.stop());

t.test('parseRedisTarget() takes redis://HOST:PORT[/DB]/STREAM, and names the flag when it cannot', async (t) => {
  t.ok(isRedisTarget('redis://h/s'));
  t.ok(isRedisTarget('REDISS://h/s'));
  t.notOk(isRedisTarget('access.log'));
  t.same(parseRedisTarget('--from', 'redis://127.0.0.1:6380/jobs'), { url: 'redis://127.0.0.1:6380', stream: 'jobs' });
  t.same(parseRedisTarget('--from', 'redis://host/2/logs:app'), { url: 'redis://host/2', stream: 'logs:app' });
  t.same(parseRedisTarget('--to', 'rediss://user:p%40ss@host:6390/0/a%2Fb'), { url: 'rediss://user:p%40ss@host:6390/0', stream: 'a/b' });
  t.same(parseRedisTarget('--to', 'redis://:secret@host/s'), { url: 'redis://:secret@host', stream: 's' });
  for (const [text, why] of [
    ['redis://host', 'no stream'],
    ['redis://host/', 'no stream'],
    ['redis://host/x/y/z', 'no stream'],
    ['redis://host/db/s', 'the database must be a number, got "db"'],
    ['redis://host/s?x=1', 'no ?query or #fragment is taken'],
    ['http://host/s', 'not a redis:// or rediss:// URL'],
    ['redis:///s', 'no host'],
    ['redis://a b/s', 'not a URL'],
  ]) {
    const error = thrown(() => parseRedisTarget('--from', text!));
    t.type(error, UsageError);
    t.equal((error as Error).message, `--from ${JSON.stringify(text)}: ${why}; expected redis://HOST:PORT[/DB]/STREAM`);
  }
});

t.test('redisInputOptions() checks the flags of a Redis input', async (t) => {
  t.same(redisInputOptions({}), {
    group: undefined,
    consumer: undefined,
    follow: false,
    start: 'all',
    claimIdle: undefined,
    maxDeliveries: undefined,
    deadLetter: undefined,
  });
  t.same(redisInputOptions({ group: 'g', consumer: 'c', start: 'new', 'claim-idle': '500', 'max-deliveries': '3', 'dead-letter': 'dlq' }), {
    group: 'g',
    consumer: 'c',
    follow: false,
    start: 'new',
    claimIdle: 500,
    maxDeliveries: 3,
    deadLetter: 'dlq',
  });
  for (const [flags, message] of [
    [{ consumer: 'c' }, '--consumer needs --group'],
    [{ 'claim-idle': '5' }, '--claim-idle needs --group'],
    [{ group: 'g', follow: true }, '--follow is for --from without --group (a consumer group always follows)'],
    [{ start: 'latest' }, '--start must be new or all, got "latest"'],
    [{ group: 'g', 'claim-idle': '0' }, '--claim-idle must be a whole number >= 1, got "0"'],
    [{ group: 'g', 'max-deliveries': '1.5' }, '--max-deliveries must be a whole number >= 1, got "1.5"'],
    [{ group: '' }, '--group must not be empty'],
    [{ group: 'g', consumer: '' }, '--consumer must not be empty'],
  ] as [RedisInputFlags, string][]) {
    const error = thrown(() => redisInputOptions(flags));
    t.type(error, UsageError);
    t.equal((error as Error).message, message);
  }
});

t.test('redisInput() without a group reads the whole stream as lines and ends', async (t) => {
  await fill(server.admin, 'lines', ['a', 'b']);
  await server.admin.sendCommand(['XADD', 'lines', '*', 'x', '1']);
  await clean(t, async () => {
    const input = redisInput(parseRedisTarget('--from', `${server.url}/lines`), redisInputOptions({}));
    t.notOk(input.endless);
    const out: string[] = [];
    for await (const item of input.source) out.push(input.line(item));
    t.same(out, ['a', 'b', '{"x":"1"}'], 'the data field, or the fields as JSON');
    t.notOk(input.deadLetter({ id: '1-1', data: 'a' }, new Error('x')), 'nothing to dead-letter without a group');
    t.ok(redisInput(parseRedisTarget('--from', `${server.url}/lines`), redisInputOptions({ follow: true })).source.destroy());
  });
});

t.test('redisInput() with --group: --skip-errors dead-letters a failing entry at once; without, the entry stays pending with its error noted', async (t) => {
  await fill(server.admin, 'jobs', ['1', '2', 'boom', '4']);
  const target = parseRedisTarget('--from', `${server.url}/jobs`);
  const output = parseRedisTarget('--to', `${server.url}/results`);
  await clean(t, async () => {
    const input = redisInput(target, redisInputOptions({ group: 'cli', consumer: 'me', 'max-deliveries': '2' }));
    t.ok(input.endless);
    const expr = (line: string): string => {
      if (line === 'boom') throw new Error('not a number');
      return String(Number(line) * 10);
    };
    const skipping = chain([input.line, expr], { onError: (error, item) => (input.deadLetter(item, error) ? undefined : undefined) });
    const done = pipeline(input.source, skipping, redisOutput(output));
    await until(async () => (await groupState(server.admin, 'jobs', 'cli')).pending === 0 && (await dataOf(server.admin, 'results')).length === 3, 'done');
    input.drain();
    await done;
    t.same(await dataOf(server.admin, 'results'), ['10', '20', '40']);
    const [dead] = await entriesOf(server.admin, 'jobs:dlq');
    t.match(dead!.fields, { data: 'boom', error: 'Error: not a number', deliveries: '1', group: 'cli' });
    t.equal(input.locate({ id: '1-2', data: 'x' }), 'jobs@1-2');
    t.equal(input.locate('x'), undefined);
    t.notOk(input.deadLetter('not an entry', new Error('x')));

    // Without --skip-errors: the run stops, the entry stays pending, its error kept for the dead letter.
    await fill(server.admin, 'jobs', ['boom']);
    const strict = redisInput(target, redisInputOptions({ group: 'cli', consumer: 'me', 'max-deliveries': '1' }));
    const failing = chain([strict.line, expr], {
      onError: (error, item) => {
        strict.noteFailure(item, error);
        throw error;
      },
    });
    await t.rejects(pipeline(strict.source, failing, redisOutput(output)), /not a number/);
    t.equal((await pendingOf(server.admin, 'jobs', 'cli', 'me')).length, 1, 'still pending');
    t.notOk(strict.noteFailure('not an entry', new Error('x')));

    // The next run gets it back, past --max-deliveries: dead-lettered with the error noted.
    const again = redisInput(target, redisInputOptions({ group: 'cli', consumer: 'me', 'max-deliveries': '1' }));
    const rerun = pipeline(again.source, chain([again.line, expr]), redisOutput(output));
    await until(async () => (await entriesOf(server.admin, 'jobs:dlq')).length === 2, 'dead-lettered');
    again.drain();
    await rerun;
    t.match((await entriesOf(server.admin, 'jobs:dlq'))[1]!.fields, { data: 'boom', error: 'Error: not a number', deliveries: '2' });
    t.same(await pendingOf(server.admin, 'jobs', 'cli'), []);
  });
});

t.test("import 'sluice' loads no Redis client; 'sluice/redis' does", async (t) => {
  // The built package, as users import it (npm test builds first).
  const loaded = (entry: string): string => {
    const script = `await import(${JSON.stringify(join(root, 'dist', entry))}); const { createRequire } = await import('node:module');
      console.log(Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('@redis')))`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
    });
    return r.stdout.trim() || r.stderr;
  };
  t.equal(loaded('index.js'), 'false');
  t.equal(loaded('redis/index.js'), 'true');
});

t.test('examples/redis-workers runs a producer and two worker processes on its own redis-server', async (t) => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'examples', 'redis-workers.ts'), '--lines', '3000', '--workers', '2'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
  });
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /^producer: 3,000 lines into access-log$/m);
  t.match(run.stdout, /^worker-1: [\d,]+ lines, [\d,]+ 5xx, statuses \{/m);
  t.match(run.stdout, /^worker-2: [\d,]+ lines/m);
  t.match(run.stdout, /^3,000 lines by 2 workers in [\d.]+ s; nothing pending$/m);
  const help = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'examples', 'redis-workers.ts'), '--help'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
  });
  t.equal(help.status, 0);
  t.match(help.stdout, /^Many machines, one stream of work/);
  t.match(help.stdout, /examples\/redis-workers\.ts worker --url redis:\/\/HOST:6379/);
});
