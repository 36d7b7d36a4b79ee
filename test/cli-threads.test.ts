// `sluice --threads N`: the same bytes, counts, errors and exit statuses as one thread. Spawns the
// built command, as test/cli.test.ts does.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { accessLogLines } from '../examples/gen-access-log.js';
import { bin, ensureBuilt, feedNumbers, sluice, start } from './fixtures/cli.js';

ensureBuilt();
t.setTimeout(240_000);

/** A log with the awkward parts: CRLF endings, empty lines, non-ASCII, and no final newline. */
function awkwardLog(lines: number, seed: number): string {
  const log = [...accessLogLines({ seed, lines, nonAsciiRatio: 0.05 })];
  for (let i = 7; i < log.length; i += 97) log[i] = '';
  return log.join('\r\n');
}

t.test('sluice --threads 2 writes byte for byte what --threads 1 writes, and counts the same', async (t) => {
  // Several MiB: the input is cut into several chunks, lines and characters cut at their edges.
  const dir = t.testdir({ 'a.log': awkwardLog(40_000, 1), 'b.log': awkwardLog(20_000, 2) });
  const files = [join(dir, 'a.log'), join(dir, 'b.log')];
  for (const args of [
    ['--filter', '$9 >= 400', '--map', '$7'],
    ['--map', 'line.toUpperCase()'],
    ['--count-by', '$9'],
    ['--flat-map', 'line.split(" ").slice(0, 2)', '--filter', 'line !== ""'],
    ['--map', 'FILENAME.slice(-5) + " " + NR + " " + FNR + " " + NF'],
    ['--parallel', '3', '--map', 'async (l) => l.length'],
    ['--map', '$9', '--take', '12345'],
    // Dropped once per input, not once per chunk.
    ['--skip', '3', '--map', 'NR + " " + FNR + " " + $9'],
    ['--skip', '2', '--count-by', '$9', '--stats-json'],
  ]) {
    const one = spawnSync(process.execPath, [bin, '--threads', '1', ...args, ...files], { encoding: 'buffer', maxBuffer: 1 << 30 });
    const two = spawnSync(process.execPath, [bin, '--threads', '2', ...args, ...files], { encoding: 'buffer', maxBuffer: 1 << 30 });
    t.equal(two.status, 0, `${args.join(' ')}: ${two.stderr.toString()}`);
    t.ok(one.stdout.length > 0, args.join(' '));
    t.ok(two.stdout.equals(one.stdout), `${args.join(' ')}: identical bytes`);
    if (args.includes('--stats-json')) {
      const counted = (r: typeof one): unknown => JSON.parse(r.stderr.toString().trim().split('\n').at(-1)!).linesIn;
      t.equal(counted(two), counted(one), `${args.join(' ')}: the same lines in`);
    }
  }
});

t.test('sluice --threads 2 reports the same FILE:LINE errors, skips and exit statuses as one thread', async (t) => {
  const lines = Array.from({ length: 300_000 }, (_, i) => (i === 250_000 ? '{oops' : `{"n":${i}}`));
  const dir = t.testdir({ 'in.ndjson': `${lines.join('\n')}\n` });
  const file = join(dir, 'in.ndjson');
  const full = lines.map((_, i) => `${i}\n`).join('');
  for (const args of [
    ['--json', '--map', 'rec.n'],
    ['--map', 'JSON.parse(line).n'],
    ['--skip-errors', '--map', 'JSON.parse(line).n'],
    ['--map', 'NR === 200000 ? null.x : NR - 1'],
  ]) {
    const one = sluice(['-j', '1', ...args, file]);
    const two = sluice(['-j', '2', ...args, file]);
    t.equal(two.status, one.status, args.join(' '));
    t.equal(two.stderr, one.stderr, args.join(' '));
    // A failed run flushes whole lines already done: a prefix of the output, as long as timing decides.
    if (one.status === 0) t.equal(two.stdout, one.stdout, args.join(' '));
    else t.ok(full.startsWith(two.stdout) && full.startsWith(one.stdout), `${args.join(' ')}: prefixes`);
  }
  t.match(sluice(['-j', '2', '--json', '--filter', 'false', file]).stderr, `${file}:250001: SyntaxError`);
});

t.test('sluice --threads auto uses the cores; --threads refuses --begin/--end and CSV', async (t) => {
  t.equal(sluice(['--threads', 'auto', '--map', 'line + 1'], { input: '1\n2\n' }).stdout, '11\n21\n');
  for (const [args, message] of [
    [['-j', '2', '--begin', 'n = 0', '--map', 'line'], /--begin and --end share variables between lines/],
    [['-j', '2', '--csv'], /--threads with --csv is not supported/],
    [['-j', '0'], /--threads must be an integer >= 1/],
  ] as const) {
    const r = sluice([...args], { input: 'x\n' });
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, message);
  }
});

t.test('sluice --threads 2 | head -1 exits 0 at once, and --take stops reading an endless stdin', async (t) => {
  const child = start(['-j', '2', '--map', 'line']);
  const fed = feedNumbers(child.stdin);
  child.stdout.once('data', () => child.stdout.destroy());
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 0);
  await fed;
  const taking = start(['-j', '2', '--take', '3']);
  void feedNumbers(taking.stdin);
  let out = '';
  taking.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const [taken] = (await once(taking, 'exit')) as [number | null];
  t.equal(taken, 0);
  t.equal(out, '1\n2\n3\n');
});

for (const [name, status] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  t.test(`sluice --threads 2 on ${name} stops and exits ${status}, leaving no thread or process behind`, async (t) => {
    const child = start(['-j', '2', '--map', 'line']);
    void feedNumbers(child.stdin);
    await once(child.stdout, 'data');
    child.kill(name);
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    t.equal(code ?? (signal === name ? status : signal), status);
  });
}
