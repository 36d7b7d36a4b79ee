// `sluice --from/--to redis://…`: the built command against a real redis-server started for this file.
// Workers of a group run until signalled: each test polls Redis for the state it waits for (with
// generous safety nets, never timing assertions), then sends the signal.
import t from 'tap';
import { spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Collector, bin, ensureBuilt, exited, sluice, start, text } from './fixtures/cli.js';
import { dataOf, entriesOf, fill, groupState, numbers, pendingOf, startRedis, until, type RedisServer } from './fixtures/redis.js';

ensureBuilt();
// Some 40 runs of the command (Node's start-up, ~0.3 s each on a loaded machine) and a few drains.
t.setTimeout(240_000);

let server: RedisServer;
t.before(async () => {
  server = await startRedis();
});
t.teardown(() => server?.stop());

const lines = (xs: readonly string[]): string => xs.map((x) => `${x}\n`).join('');
const url = (stream: string): string => `${server.url}/${stream}`;

/** A worker of a group, its output collected; `stop()` sends SIGTERM and gives its exit and stderr. */
function worker(args: readonly string[]): {
  child: ChildProcessWithoutNullStreams;
  out: Collector;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
} {
  const child = start(args);
  const out = new Collector(child.stdout);
  const stderr = text(child.stderr);
  return {
    child,
    out,
    async stop() {
      child.kill('SIGTERM');
      const exit = await exited(child);
      return { ...exit, stderr: await stderr };
    },
  };
}

/** Waits until the group has delivered every entry of the stream and nothing is pending. */
async function settled(stream: string, group: string): Promise<void> {
  await until(
    async () => {
      const state = await groupState(server.admin, stream, group);
      return state.lag === 0 && state.pending === 0;
    },
    `${stream}/${group}: everything delivered and acknowledged`,
    60_000,
  );
}

t.test('sluice --from URL reads the whole stream (data fields) as lines, then exits 0', async (t) => {
  await fill(server.admin, 'whole', ['a', 'b c', 'two\nlines']);
  await server.admin.sendCommand(['XADD', 'whole', '*', 'x', '1']);
  const r = sluice(['--from', url('whole'), '--map', 'line.toUpperCase()', '--stats-json']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, lines(['A', 'B C', 'TWO\nLINES', '{"X":"1"}']), 'an entry is one line even with a newline in it; no data field: its fields as JSON');
  const stats = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { linesIn: number; linesOut: number };
  t.same([stats.linesIn, stats.linesOut], [4, 4], '--stats counts entries');
  const fields = sluice(['--from', url('whole'), '--map', 'FILENAME + " " + $2 + " " + NR']);
  t.equal(
    fields.stdout,
    lines(['whole  undefined', 'whole c undefined', 'whole  undefined', 'whole  undefined']),
    'FILENAME is the stream; NR has no line numbers to count',
  );
});

t.test('sluice --to URL writes each output item as an entry (field data), --count-by lines included', async (t) => {
  const r = sluice(['--to', url('written'), '--map', 'line + "!"'], { input: lines(['a', 'b', 'c']) });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, '');
  t.same(await dataOf(server.admin, 'written'), ['a!', 'b!', 'c!']);
  const counted = sluice(['--to', url('counted'), '--count-by', 'line', '--to-json'], { input: lines(['x', 'y', 'x']) });
  t.equal(counted.status, 0, counted.stderr);
  t.same(await dataOf(server.admin, 'counted'), ['{"key":"x","count":2}', '{"key":"y","count":1}']);
  const plain = sluice(['--from', url('written'), '--to', url('copied'), '--map', 'line.repeat(2)', '--end', '"end"']);
  t.equal(plain.status, 0, plain.stderr);
  t.same(await dataOf(server.admin, 'copied'), ['a!a!', 'b!b!', 'c!c!', 'end'], 'Redis to Redis, --end last');
});

t.test('sluice --from --group runs until SIGTERM, which drains: every entry processed once and acknowledged, exit 0', async (t) => {
  await fill(server.admin, 'jobs', numbers(500, 1));
  const w = worker(['--from', url('jobs'), '--group', 'g', '--consumer', 'c1', '--map', 'line * 2']);
  await settled('jobs', 'g');
  await w.out.atLeast(lines(numbers(500, 1).map((n) => String(Number(n) * 2))).length);
  // More while it runs: a group's worker follows the stream.
  await fill(server.admin, 'jobs', ['1000']);
  await w.out.atLeast(lines(numbers(500, 1).map((n) => String(Number(n) * 2))).length + 5);
  const { code, stderr } = await w.stop();
  t.equal(code, 0, stderr);
  t.equal(await w.out.done, lines([...numbers(500, 1).map((n) => String(Number(n) * 2)), '2000']));
  t.same(await pendingOf(server.admin, 'jobs', 'g'), []);
  t.equal((await groupState(server.admin, 'jobs', 'g')).lag, 0);
});

t.test('sluice --from --group: a second signal aborts at once (130/143), leaving the entries in flight pending', async (t) => {
  await fill(server.admin, 'stuck', ['1', '2']);
  const child = start([
    '--from',
    url('stuck'),
    '--group',
    'g',
    '--consumer',
    'c1',
    '--parallel',
    '2',
    '--map',
    'async () => new Promise(() => setInterval(() => {}, 1000))',
  ]);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  await until(async () => (await pendingOf(server.admin, 'stuck', 'g')).length === 2, 'both delivered');
  child.kill('SIGTERM');
  // The drain waits for the two that never finish; the second signal is the way out. It is sent once the
  // first was handled: two sent at once may reach the process as one.
  await until(async () => stderr.includes('sluice: SIGTERM: finishing the entries in flight; send it again to stop at once'), 'draining');
  t.equal((await groupState(server.admin, 'stuck', 'g')).pending, 2, 'still pending');
  child.kill('SIGTERM');
  const { code, signal } = await exited(child);
  t.ok(signal === 'SIGTERM' || code === 143, `killed by the second SIGTERM (code ${code}, signal ${signal}): ${stderr}`);
  t.equal((await pendingOf(server.admin, 'stuck', 'g', 'c1')).length, 2, 'nothing acknowledged');
});

t.test(
  'sluice --from --group without --skip-errors: a throwing expression stops the run (exit 1) naming STREAM@ID; the entry stays pending with its error noted',
  async (t) => {
    const [id] = await fill(server.admin, 'failing', ['boom']);
    const args = [
      '--from',
      url('failing'),
      '--group',
      'g',
      '--consumer',
      'c1',
      '--max-deliveries',
      '1',
      '--map',
      'line === "boom" ? (() => { throw new Error("not a number") })() : line',
    ];
    const r = sluice(args);
    t.equal(r.status, 1);
    t.equal(r.stderr, `sluice: failing@${id}: Error: not a number\n`);
    t.same(
      (await pendingOf(server.admin, 'failing', 'g')).map((p) => p.id),
      [id],
    );
    t.equal(await server.admin.sendCommand(['GET', `failing:dlq:error:g:${id}`]), 'Error: not a number', 'noted for its dead letter');
    // The next run gets it back past --max-deliveries: dead-lettered with that error.
    const w = worker(args);
    await until(async () => (await entriesOf(server.admin, 'failing:dlq')).length === 1, 'dead-lettered');
    await settled('failing', 'g');
    const { code, stderr } = await w.stop();
    t.equal(code, 0, stderr);
    t.match((await entriesOf(server.admin, 'failing:dlq'))[0]!.fields, {
      data: 'boom',
      error: 'Error: not a number',
      deliveries: '2',
      group: 'g',
      'entry-id': id,
    });
  },
);

t.test('sluice --from --group --skip-errors dead-letters a failing entry at once with its error, processes the rest, acknowledges all', async (t) => {
  const data = ['1', '2', 'x', '4', '{bad', '6'];
  const ids = await fill(server.admin, 'skipping', data);
  const w = worker([
    '--from',
    url('skipping'),
    '--group',
    'g',
    '--consumer',
    'c1',
    '--json',
    '--skip-errors',
    '--map',
    'rec * 10',
    '--dead-letter',
    'skipping:dead',
  ]);
  await settled('skipping', 'g');
  await w.out.atLeast(lines(['10', '20', '40', '60']).length);
  const { code, stderr } = await w.stop();
  t.equal(code, 0, stderr);
  t.equal(await w.out.done, lines(['10', '20', '40', '60']));
  t.match(stderr, `sluice: skipped 2 lines with errors; the first: skipping@${ids[2]!}: SyntaxError: Unexpected token`);
  const dead = await entriesOf(server.admin, 'skipping:dead');
  t.same(
    dead.map((d) => [d.fields['data'], d.fields['entry-id']]),
    [
      ['x', ids[2]],
      ['{bad', ids[4]],
    ],
  );
  t.match(dead[0]!.fields, { error: /^SyntaxError: Unexpected token/, deliveries: '1', group: 'g' });
  t.same(await pendingOf(server.admin, 'skipping', 'g'), []);
});

t.test('sluice --threads 2 --from --group: output in order, a skipped entry dead-lettered, all acknowledged on drain', async (t) => {
  const data = numbers(3000, 1).map((n) => (n === '1234' || n === '2900' ? `bad${n}` : n));
  const ids = await fill(server.admin, 'threaded', data);
  const w = worker([
    '--from',
    url('threaded'),
    '--group',
    'g',
    '--consumer',
    'c1',
    '--threads',
    '2',
    '--skip-errors',
    '--map',
    'l => { if (l.startsWith("bad")) throw new Error(l); return l * 3 }',
  ]);
  const expected = lines(data.filter((d) => !d.startsWith('bad')).map((d) => String(Number(d) * 3)));
  await settled('threaded', 'g');
  await w.out.atLeast(expected.length);
  const { code, stderr } = await w.stop();
  t.equal(code, 0, stderr);
  t.equal(await w.out.done, expected);
  t.match(stderr, `skipped 2 lines with errors; the first: threaded@${ids[1233]!}: Error: bad1234`);
  const dead = await entriesOf(server.admin, 'threaded:dlq');
  t.same(
    dead.map((d) => [d.fields['data'], d.fields['error'], d.fields['entry-id']]),
    [
      ['bad1234', 'Error: bad1234', ids[1233]],
      ['bad2900', 'Error: bad2900', ids[2899]],
    ],
  );
  t.same(await pendingOf(server.admin, 'threaded', 'g'), []);

  // Without --skip-errors: exit 1 naming the entry, which stays pending with its error noted.
  const failing = await fill(server.admin, 'threaded-failing', ['1', 'bad', '3']);
  const r = sluice([
    '--from',
    url('threaded-failing'),
    '--group',
    'g',
    '--consumer',
    'c1',
    '-j',
    '2',
    '--map',
    'l => { if (l === "bad") throw new TypeError("no"); return l }',
  ]);
  t.equal(r.status, 1);
  t.equal(r.stderr, `sluice: threaded-failing@${failing[1]!}: TypeError: no\n`);
  t.equal((await pendingOf(server.admin, 'threaded-failing', 'g')).length, 3, 'its read stays pending');
  t.equal(await server.admin.sendCommand(['GET', `threaded-failing:dlq:error:g:${failing[1]!}`]), 'TypeError: no');
});

t.test('sluice --from --group with --parallel, --json and --count-by prints the tally on drain', async (t) => {
  await fill(
    server.admin,
    'counting',
    numbers(300).map((n) => JSON.stringify({ n: Number(n) })),
  );
  const w = worker([
    '--from',
    url('counting'),
    '--group',
    'g',
    '--consumer',
    'c1',
    '--json',
    '--parallel',
    '8',
    '--map',
    'async (r) => r.n % 3 === 0 ? "fizz" : "other"',
    '--count-by',
    'line',
  ]);
  await settled('counting', 'g');
  const { code, stderr } = await w.stop();
  t.equal(code, 0, stderr);
  t.equal(await w.out.done, lines(['    200 other', '    100 fizz']));
});

t.test('sluice --from --group --partition-by keeps each key in order and dead-letters an entry failing in its key', async (t) => {
  const ids = await fill(server.admin, 'keyed', numbers(40));
  const w = worker([
    '--from',
    url('keyed'),
    '--group',
    'g',
    '--consumer',
    'c1',
    '--partition-by',
    'line % 4',
    '--parallel',
    '4',
    '--skip-errors',
    '--map',
    'async (l) => { if (l === "13") throw new Error("thirteen"); return l }',
    '--to',
    url('keyed-out'),
  ]);
  await settled('keyed', 'g');
  const { code, stderr } = await w.stop();
  t.equal(code, 0, stderr);
  const out = (await dataOf(server.admin, 'keyed-out')).map(Number);
  t.same(
    [...out].sort((a, b) => a - b),
    numbers(40)
      .map(Number)
      .filter((n) => n !== 13),
  );
  for (const key of [0, 1, 2, 3]) {
    const mine = out.filter((n) => n % 4 === key);
    t.same(
      mine,
      [...mine].sort((a, b) => a - b),
      `key ${key} in order`,
    );
  }
  t.match((await entriesOf(server.admin, 'keyed:dlq'))[0]!.fields, { data: '13', error: 'Error: thirteen', 'entry-id': ids[13] });
});

t.test('sluice --from --group: filtered entries and those --take ended the run with are acknowledged; the rest go back to the group', async (t) => {
  const ids = await fill(server.admin, 'taking', numbers(300, 1));
  const r = sluice(['--from', url('taking'), '--group', 'g', '--consumer', 'c1', '--filter', 'line % 2', '--take', '5']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, lines(['1', '3', '5', '7', '9']));
  const pending = new Set((await pendingOf(server.admin, 'taking', 'g')).map((p) => p.id));
  t.notOk(
    ids.slice(0, 9).some((id) => pending.has(id)),
    'the nine entries taken or filtered are acknowledged',
  );
  t.ok(pending.size > 0 && [...pending].every((id) => ids.indexOf(id) >= 9), `the entries read but not run are pending (${pending.size})`);
  // Given back: the same consumer takes them first next time.
  const again = sluice(['--from', url('taking'), '--group', 'g', '--consumer', 'c1', '--filter', 'line % 2', '--take', '2']);
  t.equal(again.stdout, lines(['11', '13']));
  const none = sluice(['--from', url('taking'), '--take', '0']);
  t.equal(none.status, 0, none.stderr);
  t.equal(none.stdout, '');
});

t.test('sluice --from --follow reads new entries until SIGTERM, then exits 0', async (t) => {
  await fill(server.admin, 'tail', ['old']);
  const w = worker(['--from', url('tail'), '--follow', '--start', 'new', '--map', 'line.toUpperCase()']);
  // --start new: only what comes after it started, which it has once XREAD blocks.
  await until(async () => {
    await fill(server.admin, 'tail', ['new']);
    return w.out.text.includes('NEW\n');
  }, 'a new entry read');
  const { code, stderr } = await w.stop();
  t.equal(code, 0, stderr);
  t.notMatch(await w.out.done, 'OLD');
});

t.test('sluice without --from/--to never loads the Redis client', async (t) => {
  const script = `await import(${JSON.stringify(bin)}); const { createRequire } = await import('node:module');
    console.log(Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('@redis')))`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
  });
  t.equal(r.stdout.trim() || r.stderr, 'false');
});

t.test('sluice refuses --from/--to values and combinations it cannot run (exit 2, naming the flag)', async (t) => {
  const from = ['--from', 'redis://127.0.0.1:1/s'];
  const cases: [string[], string][] = [
    [['--from', 'access.log'], '--from "access.log": not a Redis stream (files are read as FILE arguments); expected redis://HOST:PORT[/DB]/STREAM'],
    [['--to', 'out.txt'], '--to "out.txt": not a Redis stream (write a file with -o FILE); expected redis://HOST:PORT[/DB]/STREAM'],
    [['--from', 'redis://host'], '--from "redis://host": no stream; expected redis://HOST:PORT[/DB]/STREAM'],
    [[...from, 'file.txt'], '--from reads a Redis stream instead of FILEs: got "file.txt" too'],
    [[...from, '-i'], '--from and --in-place cannot be used together'],
    [['--to', 'redis://h/s', '-o', 'x'], '--to and --output cannot be used together'],
    [['--to', 'redis://h/s', '-i', 'x'], '--to and --in-place cannot be used together'],
    [['--to', 'redis://h/s', '--to-csv'], '--to with --to-csv is not supported'],
    [[...from, '--csv'], '--from with --csv is not supported (a record may span entries)'],
    [[...from, '--tsv'], '--from with --tsv is not supported (a record may span entries)'],
    [['--group', 'g'], '--group needs --from redis://…'],
    [['--consumer', 'c'], '--consumer needs --from redis://…'],
    [['--follow'], '--follow needs --from redis://…'],
    [['--start', 'new'], '--start needs --from redis://…'],
    [['--claim-idle', '5'], '--claim-idle needs --from redis://…'],
    [['--max-deliveries', '5'], '--max-deliveries needs --from redis://…'],
    [['--dead-letter', 'd'], '--dead-letter needs --from redis://…'],
    [[...from, '--consumer', 'c'], '--consumer needs --group'],
    [[...from, '--group', 'g', '--follow'], '--follow is for --from without --group'],
    [[...from, '--start', 'latest'], '--start must be new or all, got "latest"'],
    [[...from, '--group', 'g', '--max-deliveries', '0'], '--max-deliveries must be a whole number >= 1, got "0"'],
  ];
  for (const [args, message] of cases) {
    const r = sluice(args);
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, `sluice: ${message}`, args.join(' '));
  }
});
