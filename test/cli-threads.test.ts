// `sluice --threads N`: the same bytes, counts, errors and exit statuses as one thread. Spawns the
// built command, as test/cli.test.ts does.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
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
    // Empty output lines, and lines that hold a newline, in the text a thread joins.
    ['--map', '$9 === "404" ? "" : $9 === "500" ? $9 + "\\n" + $7 : $9'],
    // One header, however many chunks.
    ['--to-csv', '--map', '({ status: $9, path: $7 })'],
    ['--to-json', '--map', '$9'],
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

t.test('sluice --threads 2 -o FILE keeps CRLF and the missing final newline, as one thread does', async (t) => {
  const dir = t.testdir({ 'a.log': awkwardLog(40_000, 3) });
  const input = join(dir, 'a.log');
  for (const threads of ['1', '2']) {
    const r = spawnSync(process.execPath, [bin, '--threads', threads, '--map', '$9', '-o', join(dir, `out${threads}`), input], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
  }
  const one = readFileSync(join(dir, 'out1'));
  t.ok(one.includes('\r\n') && !one.toString().endsWith('\n'), 'CRLF, no final newline');
  t.ok(readFileSync(join(dir, 'out2')).equals(one), 'identical bytes');
});

t.test('sluice --threads 2 reads regular files in ranges cut at line ends, as one thread reads them', async (t) => {
  // Lines from a few bytes to 6 MiB: cuts found after several probes, and a line longer than a range.
  const long = (n: number): string => 'x'.repeat(n);
  const sizes = [5, 70_000, 3, 6 * 1024 * 1024, 200_000, 9, 4 * 1024 * 1024 - 1, 1];
  const varied = Array.from({ length: 60 }, (_, i) => long(sizes[i % sizes.length]!)).join('\n');
  const dir = t.testdir({
    'varied.txt': `${varied}\n`,
    'bom.log': `\ufeff${awkwardLog(30_000, 4)}`,
    'none.txt': 'one line, no newline',
    'empty.txt': '',
    'crlf.txt': 'a\r\nb\r\n',
    'bad.ndjson': `${Array.from({ length: 500_000 }, (_, i) => (i === 420_000 ? '{oops' : `{"n":${i}}`)).join('\n')}\n`,
    'nul.bin': `text\u0000more\n`,
  });
  const at = (name: string): string => join(dir, name);
  const both = (args: string[], input = ''): void => {
    const one = sluice(['-j', '1', ...args], { input });
    const two = sluice(['-j', '2', ...args], { input });
    t.equal(two.status, one.status, `${args.join(' ')}: status`);
    t.equal(two.stderr, one.stderr, `${args.join(' ')}: stderr`);
    if (one.status === 0) t.equal(two.stdout, one.stdout, `${args.join(' ')}: stdout`);
  };
  both(['--map', 'line.length', at('varied.txt')]);
  // The BOM dropped; the output's line ending is the first input's (none here: LF), the last's final newline kept.
  both(['--map', '$9', at('none.txt'), at('bom.log'), at('empty.txt')]);
  both(['--map', 'line', at('crlf.txt'), at('none.txt')]);
  // A failing line in the fourth range: its line number counted over the ranges before it.
  both(['--json', '--map', 'rec.n', at('bad.ndjson')]);
  both(['--skip-errors', '--json', '--map', 'rec.n', at('bad.ndjson')]);
  t.match(sluice(['-j', '2', '--map', 'line', at('nul.bin')]).stderr, /nul\.bin: binary input \(a NUL byte at offset 4\)/);
  both(['--map', 'line', at('nul.bin')]);
  both(['--text', '--map', 'line.length', at('nul.bin')]);
  // Gzip input: the main thread decompresses and cuts it (no ranges in a compressed file).
  writeFileSync(at('bom.log.gz'), gzipSync(readFileSync(at('bom.log'))));
  both(['--map', '$9', at('bom.log.gz')]);
  // stdin: cut by the main thread as it comes, in many small reads (it lost its last reads once).
  both(['--map', '$9'], readFileSync(at('bom.log'), 'utf8'));
  both(['--map', 'NR + " " + $9', at('bom.log.gz')]);
  both(['--map', 'line', at('missing.txt')]);
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

t.test("sluice passes on a slow pipe's lines as they come, with one thread or two, even a first line of two bytes", async (t) => {
  for (const threads of ['1', '2']) {
    const child = start(['-j', threads, '--map', 'line.toUpperCase()']);
    child.stdout.setEncoding('utf8');
    const exited = once(child, 'exit');
    // The input stays open: each line must come out before the next goes in.
    for (const line of ['a', 'second line']) {
      child.stdin.write(`${line}\n`);
      const [out] = (await once(child.stdout, 'data')) as [string];
      t.equal(out, `${line.toUpperCase()}\n`, `-j ${threads}: ${line}`);
    }
    child.stdin.end();
    t.same(await exited, [0, null]);
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
