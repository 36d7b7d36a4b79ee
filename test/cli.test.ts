// The `sluice` command, tested by spawning the built command (dist/cli/main.js) as a user would.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { accessLogLines } from '../examples/gen-access-log.js';
import { bin, Collector, ensureBuilt, exited, feedNumbers, root, sluice, start } from './fixtures/cli.js';

ensureBuilt();
// About 70 runs of the command at ~0.3 s each (Node's start-up): more than tap's 30 s default on a busy machine.
t.setTimeout(120_000);

const lines = (...xs: string[]): string => xs.map((x) => `${x}\n`).join('');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const tmpFiles = (dir: string): string[] => readdirSync(dir).filter((name) => name.endsWith('.tmp'));

t.test('sluice --help prints the usage with examples; --version the package version', async (t) => {
  const help = sluice(['--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /^Usage: sluice \[options\] \[FILE\.\.\.\]/);
  t.match(help.stdout, /Examples:\n {2}sluice --count-by/);
  const version = sluice(['--version']);
  t.equal(version.status, 0);
  t.equal(version.stdout, `${pkg.version}\n`);
});

t.test('sluice runs --map/--filter in command-line order over the files in order, - for stdin', async (t) => {
  const dir = t.testdir({ 'a.txt': lines('a', 'b'), 'c.txt': 'c\nlast without newline' });
  const args = ['--filter', 'line !== "b"', '--map', 'line.toUpperCase()', '--map', 'l => l + "!"'];
  const r = sluice([...args, join(dir, 'a.txt'), '-', join(dir, 'c.txt')], { input: 'from stdin\n' });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, lines('A!', 'FROM STDIN!', 'C!', 'LAST WITHOUT NEWLINE!'));
  // The same stages in another order give another result.
  const reordered = sluice(['--map', 'line + "!"', '--filter', 'line.endsWith("a!")'], { input: lines('a', 'b') });
  t.equal(reordered.stdout, lines('a!'));
});

t.test('sluice reads stdin when no file is given; CRLF input gives CRLF output', async (t) => {
  const r = sluice(['--map', 'line.length'], { input: 'ab\r\ncde\r\n' });
  t.equal(r.stdout, '2\r\n3\r\n', "the \\r is not part of the line, and the output keeps the input's line ending");
  t.equal(sluice(['--map', 'line.length'], { input: 'ab\ncde\n' }).stdout, lines('2', '3'));
});

t.test('sluice gives expressions awk-style fields $1…$N and $0', async (t) => {
  const r = sluice(['--map', '$3 + "|" + $1 + "|" + $0.length + "|" + $9'], { input: lines('  a b\tc  d', 'x') });
  t.equal(r.stdout, lines('c|a|10|', '|x|1|'));
});

t.test('sluice --json parses NDJSON and writes objects as JSON lines, strings as they are', async (t) => {
  const input = lines('{"id":1,"user":"zoë","tags":["a"]}', '', '  ', '{"id":2,"user":null,"tags":[]}');
  const r = sluice(['--json', '--map', '({ id, user }) => user ?? { id }'], { input });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, lines('zoë', '{"id":2}'));
  const values = sluice(['--json', '--map', 'rec.id * 2'], { input });
  t.equal(values.stdout, lines('2', '4'));
});

t.test('sluice drops items whose stage returns undefined or null', async (t) => {
  const r = sluice(['--map', 'line === "a" ? undefined : line === "b" ? null : line'], { input: lines('a', 'b', 'c') });
  t.equal(r.stdout, lines('c'));
});

t.test('sluice --flat-map spreads iterables and --batch groups items into arrays', async (t) => {
  const r = sluice(['--flat-map', 'line.split(" ")', '--batch', '2'], { input: lines('a b c', 'd') });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, lines('["a","b"]', '["c","d"]'));
  const gen = sluice(['--flat-map', 'function* (l) { for (const c of l) yield c + c; }'], { input: lines('ab') });
  t.equal(gen.stdout, lines('aa', 'bb'));
  const asyncGen = sluice(['--flat-map', 'async function* (l) { yield l; yield l + "!"; }'], { input: lines('a', 'b') });
  t.equal(asyncGen.stdout, lines('a', 'a!', 'b', 'b!'));
  const notIterable = sluice(['--flat-map', 'line.length'], { input: lines('abc') });
  t.equal(notIterable.status, 1);
  t.equal(notIterable.stderr, 'sluice: <stdin>:1: TypeError: flatMap(): the function must return an iterable or async iterable, got 3 (number)\n');
});

t.test('sluice --count-by prints "count key" lines as uniq -c does, most frequent first; --top N; --to-json objects', async (t) => {
  const log = [...accessLogLines({ seed: 3, lines: 3000 })];
  const expected = new Map<string, number>();
  for (const line of log) expected.set(line.split(' ')[8]!, (expected.get(line.split(' ')[8]!) ?? 0) + 1);
  const dir = t.testdir({ 'access.log': lines(...log) });
  const r = sluice(['--count-by', '$9', join(dir, 'access.log')]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, '', 'no progress bar or notes when stderr is not a terminal');
  const rows = r.stdout.trimEnd().split('\n');
  for (const row of rows) t.match(row, /^[ \d]{7} \d{3}$/, 'the count right-aligned in 7 columns, as uniq -c prints it');
  const got = rows.map((row) => row.trim().split(' ')).map(([count, key]) => [key, Number(count)] as const);
  t.same(new Map(got), expected);
  t.same(
    got.map(([, n]) => n),
    [...expected.values()].sort((a, b) => b - a),
    'most frequent first',
  );

  const top = sluice(['--count-by', '$9', '--top', '2', join(dir, 'access.log')]);
  t.equal(top.stdout, lines(...rows.slice(0, 2)));

  // --json is how input is read; --to-json how output is written. Ties go by the key's text.
  const input = lines('{"k":"a"}', '{"k":"b"}', '{"k":"a"}', '{"k":1}', '{}');
  t.equal(sluice(['--json', '--count-by', 'rec.k', '--top', '2'], { input }).stdout, lines('      2 a', '      1 1'));
  const json = sluice(['--json', '--count-by', 'rec.k', '--top', '2', '--to-json'], { input });
  t.equal(json.stdout, lines('{"key":"a","count":2}', '{"key":1,"count":1}'));
  const objects = sluice(['--json', '--count-by', 'rec', '--to-json'], { input: lines('{"user":"a"}', '{"user":"a"}') });
  t.equal(objects.stdout, lines('{"key":{"user":"a"},"count":2}'), 'an object key is written as the object, not as JSON text in a string');
  t.equal(sluice(['--count-by', 'Symbol.for(line)'], { input: lines('a', 'a') }).stdout, lines('      2 Symbol(a)'), 'a Symbol key is counted');
});

t.test('sluice --count-by after a stage that runs outside split() counts the same', async (t) => {
  const r = sluice(['--flat-map', 'line.split(" ")', '--count-by', 'line.toLowerCase()'], { input: lines('a B b', 'A c b') });
  t.equal(r.stdout, lines('      3 b', '      2 a', '      1 c'));
});

t.test('sluice --stats reports lines in and out, bytes, time and rate, and a table of the stages, on stderr', async (t) => {
  const r = sluice(['--stats', '--filter', 'line > "b"'], { input: lines('a', 'b', 'c', 'd') });
  t.equal(r.stdout, lines('c', 'd'));
  const [totals, header, ...rows] = r.stderr.trimEnd().split('\n');
  t.match(totals, /^sluice: 4 lines in, 2 lines out, 8 B in \d+\.\d\d s \(\d+ lines\/s, [\d.]+ \w?B\/s\)$/);
  t.match(header, /^sluice: stage +in +out +busy +starved +blocked$/);
  t.match(rows[0], /^sluice: per-line stages +4 +2 +\d+% +\d+% +\d+%$/);
  const json = sluice(['--stats-json', '--take', '1'], { input: lines('a', 'b') });
  const report = JSON.parse(json.stderr) as { linesIn: number; stages: { name: string; itemsIn: number }[] };
  t.equal(report.linesIn, 2);
  t.same(
    report.stages.map((s) => s.name),
    ['per-line stages', 'take', 'chain(toText)'],
  );
});

t.test('sluice writes lines out as they come when input trickles in (tail -f | sluice)', async (t) => {
  const child = start(['--map', 'line.toUpperCase()']);
  const out = new Collector(child.stdout);
  child.stdin.write('one\n');
  await out.atLeast(4); // it would wait for ever if output waited for a full buffer or the end
  t.equal(out.text, 'ONE\n');
  child.stdin.end('two\n');
  t.equal(await out.done, 'ONE\nTWO\n');
  t.equal((await exited(child)).code, 0);
});

t.test('sluice --take N stops reading an endless stdin and exits 0', async (t) => {
  const child = start(['--take', '3', '--map', 'line * 10']);
  const out = new Collector(child.stdout);
  const fed = feedNumbers(child.stdin);
  const { code } = await exited(child);
  t.equal(code, 0);
  t.equal(await out.done, lines('10', '20', '30'));
  t.ok((await fed) > 0);
});

t.test('sluice | head -1: once the reader closes the pipe, exits 0 without an EPIPE trace', async (t) => {
  const child = start(['--map', 'line']);
  const err = new Collector(child.stderr);
  void feedNumbers(child.stdin);
  const first = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  t.match(first, /^1\n/);
  child.stdout.destroy(); // what `head -1` does once it has its line
  const { code, signal } = await exited(child);
  t.equal(code, 0);
  t.equal(signal, null);
  t.equal(await err.done, '');
});

for (const [name, status] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  t.test(`sluice on ${name} mid-stream stops, flushes whole processed lines (a prefix) and exits ${status}`, async (t) => {
    const child = start(['--map', 'line * 2']);
    const out = new Collector(child.stdout);
    const err = new Collector(child.stderr);
    void feedNumbers(child.stdin);
    await out.atLeast(100_000);
    child.kill(name);
    const { code } = await exited(child);
    const text = await out.done;
    t.equal(code, status);
    t.ok(text.endsWith('\n'), 'whole lines only');
    const got = text.split('\n').slice(0, -1);
    t.ok(got.length > 10_000, `${got.length} lines`);
    const bad = got.findIndex((line, i) => line !== String(2 * (i + 1)));
    t.equal(bad, -1, 'the output is a prefix of the full output');
    t.equal(await err.done, '');
  });
}

t.test('sluice exits 2 on a bad expression, naming the flag and the syntax error', async (t) => {
  const r = sluice(['--filter', 'line.length >', '-'], { input: 'x\n' });
  t.equal(r.status, 2);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^sluice: --filter "line\.length >": SyntaxError: the expression ends too early/);
  t.match(r.stderr, /Try 'sluice --help'/);
  const count = sluice(['--count-by', '{'], { input: 'x\n' });
  t.equal(count.status, 2);
  t.match(count.stderr, /--count-by "\{": SyntaxError/);
  const notFunction = sluice(['--map', '(x) => x, 2'], { input: 'x\n' });
  t.equal(notFunction.status, 2);
  t.match(notFunction.stderr, /--map "\(x\) => x, 2": TypeError: is not a function/);
  // The place of the error is shown in the user's own text, not in code wrapped around it.
  const placed = sluice(['--map', 'rec.a ++ 3 3'], { input: 'x\n' });
  t.equal(
    placed.stderr,
    'sluice: --map "rec.a ++ 3 3": SyntaxError: Unexpected number\n  rec.a ++ 3 3\n           ^\nTry \'sluice --help\' for more information.\n',
  );
  // A function form that throws while it is made is the command line's mistake too.
  const thrown = sluice(['--map', 'x => x, nope'], { input: 'x\n' });
  t.equal(thrown.status, 2);
  t.match(thrown.stderr, /^sluice: --map "x => x, nope": ReferenceError: nope is not defined\n/);
  // A function the function-form pattern does not see is an error, never its source printed per line.
  const unseen = sluice(['--map', '(l = String(1)) => l'], { input: 'x\n' });
  t.equal(unseen.status, 1);
  t.match(unseen.stderr, /<stdin>:1: TypeError: --map: the expression gave a function/);
});

t.test('sluice exits 2 on bad flags and values', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--nope'], /Unknown option '--nope'/],
    [['--take', '-1'], /--take/],
    [['--take', 'x'], /--take must be an integer >= 0, got "x"/],
    [['--parallel', '0', '--map', 'async l => l'], /--parallel must be an integer >= 1/],
    [['--rate', 'fast'], /--rate must look like 10\/s/],
    [['--top', '3'], /--top needs --count-by/],
    [['--unordered', '--map', 'async l => l'], /--unordered needs --parallel/],
    [['--parallel', '4', '--map', 'line'], /--parallel runs async stages, and there is none/],
    [['--in-place', '--map', 'line'], /--in-place needs files/],
    [['--in-place', '-o', 'x', 'f'], /--in-place and --output/],
  ];
  for (const [args, message] of cases) {
    const r = sluice(args, { input: 'x\n' });
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, message, args.join(' '));
  }
});

t.test('sluice exits 1 naming FILE:LINE when an expression throws, and the flag after --batch/--rate/--take', async (t) => {
  const dir = t.testdir({ 'in.txt': lines('1', '2', 'oops', '4') });
  const file = join(dir, 'in.txt');
  for (const args of [
    ['--map', 'JSON.parse(line)'],
    ['--map', 'async l => JSON.parse(l)'],
    ['--parallel', '2', '--map', 'async l => JSON.parse(l)'],
    ['--count-by', 'JSON.parse(line)'],
  ]) {
    const r = sluice([...args, file]);
    t.equal(r.status, 1, args.join(' '));
    t.equal(r.stderr, `sluice: ${file}:3: SyntaxError: Unexpected token 'o', "oops" is not valid JSON\n`, args.join(' '));
  }
  // After an order-bound stage the line an item came from is no longer known: the message names the stage.
  const after = sluice(['--take', '10', '--map', 'JSON.parse(line)', file]);
  t.equal(after.status, 1);
  t.equal(after.stderr, `sluice: --map "JSON.parse(line)": SyntaxError: Unexpected token 'o', "oops" is not valid JSON\n`);
  const thrown = sluice(['--filter', 'l => { if (l === "2") throw "no twos"; return true }', file]);
  t.equal(thrown.stderr, `sluice: ${file}:2: no twos\n`);
  const object = sluice(['--map', 'async l => { throw { code: 42 } }', file]);
  t.equal(object.stderr, `sluice: ${file}:1: {"code":42}\n`);
  // A promise is awaited whatever gave it, as in the library.
  const promised = sluice(['--map', 'Promise.resolve(line + "!")', file]);
  t.equal(promised.stdout, lines('1!', '2!', 'oops!', '4!'));
});

t.test('sluice exits 1 naming FILE:LINE on malformed JSON, and <stdin> for stdin', async (t) => {
  const dir = t.testdir({ 'a.ndjson': lines('{"a":1}', '{"a":2}'), 'b.ndjson': lines('{"a":3}', '{"a":', '{"a":5}') });
  const r = sluice(['--json', '--map', 'rec.a', join(dir, 'a.ndjson'), join(dir, 'b.ndjson')]);
  t.equal(r.status, 1);
  t.equal(r.stdout, lines('1', '2', '3'), 'lines before the bad one are written');
  t.match(r.stderr, new RegExp(`^sluice: ${join(dir, 'b.ndjson').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: SyntaxError: `));
  const stdin = sluice(['--json'], { input: 'nope\n' });
  t.match(stdin.stderr, /^sluice: <stdin>:1: SyntaxError/);
});

t.test('sluice --skip-errors skips and counts failing lines, in split() and later stages', async (t) => {
  const input = lines('{"n":1}', 'bad', '{"n":0}', '{"n":3}', '{"n":"x"}');
  const r = sluice(['--json', '--skip-errors', '--map', 'rec => { if (rec.n === 0) throw new Error("zero"); return rec.n }'], { input });
  t.equal(r.status, 0);
  t.equal(r.stdout, lines('1', '3', 'x'));
  t.equal(r.stderr, `sluice: skipped 2 lines with errors; the first: <stdin>:2: SyntaxError: Unexpected token 'b', "bad" is not valid JSON\n`);
  const later = sluice(['--skip-errors', '--map', 'async l => JSON.parse(l) * 2'], { input: lines('1', 'x', '3') });
  t.equal(later.stdout, lines('2', '6'));
  t.match(later.stderr, /skipped 1 line with errors; the first: <stdin>:2: SyntaxError/);
  const quiet = sluice(['--skip-errors', '--quiet', '--map', 'JSON.parse(line)'], { input: lines('x') });
  t.equal(quiet.stderr, '');
});

t.test('sluice --output writes FILE atomically: all of it on success, nothing on failure', async (t) => {
  const dir = t.testdir({ 'in.txt': `${lines(...Array.from({ length: 50_000 }, (_, i) => String(i)))}boom\n`, 'old.txt': 'old\n' });
  const ok = sluice(['--filter', 'line !== "boom"', '-o', join(dir, 'out.txt'), join(dir, 'in.txt')]);
  t.equal(ok.status, 0, ok.stderr);
  t.equal(ok.stdout, '');
  t.equal(readFileSync(join(dir, 'out.txt'), 'utf8').split('\n').length, 50_001);

  const failed = sluice(['--map', 'JSON.parse(line)', '--output', join(dir, 'new.txt'), join(dir, 'in.txt')]);
  t.equal(failed.status, 1);
  t.notOk(existsSync(join(dir, 'new.txt')), 'no half-written FILE');
  const kept = sluice(['--map', 'JSON.parse(line)', '--output', join(dir, 'old.txt'), join(dir, 'in.txt')]);
  t.equal(kept.status, 1);
  t.equal(readFileSync(join(dir, 'old.txt'), 'utf8'), 'old\n', 'an existing FILE is left as it was');
  t.same(tmpFiles(dir), [], 'no temp file left');

  const bad = sluice(['-o', join(dir, 'missing', 'x.txt'), join(dir, 'in.txt')]);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /cannot write .*x\.txt: ENOENT: no such file or directory/);
});

t.test('sluice --output interrupted by SIGTERM leaves no FILE and no temp file', async (t) => {
  const dir = t.testdir({});
  const child = start(['--map', 'line', '-o', join(dir, 'out.txt')]);
  void feedNumbers(child.stdin);
  const deadline = Date.now() + 10_000;
  while (tmpFiles(dir).length === 0 || statSync(join(dir, tmpFiles(dir)[0]!)).size === 0) {
    if (Date.now() > deadline) throw new Error('no temp file appeared');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGTERM');
  const { code } = await exited(child);
  t.equal(code, 143);
  t.same(readdirSync(dir), []);
});

t.test('sluice --in-place rewrites each file atomically, keeping its mode', async (t) => {
  const dir = t.testdir({ 'a.txt': lines('keep', 'drop', 'keep too'), 'b.txt': lines('drop') });
  chmodSync(join(dir, 'a.txt'), 0o640);
  const r = sluice(['-i', '--filter', 'line !== "drop"', join(dir, 'a.txt'), join(dir, 'b.txt')]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, '');
  t.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), lines('keep', 'keep too'));
  t.equal(readFileSync(join(dir, 'b.txt'), 'utf8'), '');
  t.equal(statSync(join(dir, 'a.txt')).mode & 0o777, 0o640);

  const failed = sluice(['--in-place', '--map', 'JSON.parse(line)', join(dir, 'a.txt')]);
  t.equal(failed.status, 1);
  t.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), lines('keep', 'keep too'), 'untouched on failure');
  t.same(tmpFiles(dir), []);
});

t.test('sluice exits 2 for a missing input, 1 for an unreadable one, naming the path and the reason', async (t) => {
  const dir = t.testdir({ 'ok.txt': 'ok\n', sub: {} });
  const missing = sluice([join(dir, 'ok.txt'), join(dir, 'nope.txt')]);
  t.equal(missing.status, 2, 'as grep, gawk, jq and ripgrep do');
  t.equal(missing.stdout, '', 'inputs are checked before anything is read');
  t.equal(missing.stderr, `sluice: ${join(dir, 'nope.txt')}: ENOENT: no such file or directory\n`);
  const folder = sluice([join(dir, 'sub')]);
  t.equal(folder.status, 1);
  t.equal(folder.stderr, `sluice: ${join(dir, 'sub')}: is a directory\n`);
  if (process.getuid?.() === 0) {
    t.comment('running as root: every file is readable, so the EACCES case cannot be shown');
  } else {
    chmodSync(join(dir, 'ok.txt'), 0o000);
    const locked = sluice([join(dir, 'ok.txt')]);
    t.equal(locked.status, 1);
    t.match(locked.stderr, `${join(dir, 'ok.txt')}: EACCES: permission denied`);
  }
});

t.test('sluice refuses binary input (a NUL byte), and with --text reads it with invalid UTF-8 as U+FFFD', async (t) => {
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
  const bytes = Buffer.from(Array.from({ length: 200_000 }, random));
  const dir = t.testdir({ 'blob.bin': bytes });
  const refused = sluice(['--map', 'line.length', join(dir, 'blob.bin')]);
  t.equal(refused.status, 1);
  t.match(refused.stderr, /blob\.bin: binary input \(a NUL byte at offset \d+\); use --text to read it as text anyway\n$/);
  t.equal(refused.stdout, '');
  const r = spawnSync(process.execPath, [bin, '--text', '--map', 'line.length', join(dir, 'blob.bin')], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout.split('\n').length - 1, bytes.filter((b) => b === 10).length + (bytes.at(-1) === 10 ? 0 : 1));
  const text = sluice(['-a', '--filter', 'line.includes("\\uFFFD")', '--take', '1', join(dir, 'blob.bin')]);
  t.equal(text.status, 0);
  t.match(text.stdout, /\uFFFD/);
  const json = sluice(['--text', '--json', join(dir, 'blob.bin')]);
  t.equal(json.status, 1);
  t.match(json.stderr, /blob\.bin:1: SyntaxError/);
  // No newline at all in more than 64 MiB: an error naming the line, not a crash or a 1 GiB buffer.
  const endless = sluice(['--map', 'line.length'], { input: Buffer.alloc(65 * 2 ** 20, 'a') });
  t.equal(endless.status, 1);
  t.equal(endless.stderr, 'sluice: <stdin>:1: the line is longer than 67108864 bytes (it starts at byte 0); is this a text file?\n');
});

t.test('sluice --parallel runs async stages N at a time, in input order (--unordered: completion order)', async (t) => {
  const input = lines('5', '40', '1', '20');
  const slow = 'async (l, { signal }) => { await new Promise((r) => setTimeout(r, Number(l))); return l }';
  const ordered = sluice(['--parallel', '4', '--map', slow], { input });
  t.equal(ordered.status, 0, ordered.stderr);
  t.equal(ordered.stdout, input);
  // An order that no timing decides: "a" waits until "b" has run, so "b" finishes first.
  const gated = ['--begin', 'open = null, gate = new Promise((r) => (open = r))', '--map', 'async (l) => { if (l === "a") await gate; else open(); return l }'];
  t.equal(sluice(['--parallel', '2', '--unordered', ...gated], { input: lines('a', 'b') }).stdout, lines('b', 'a'));
  t.equal(sluice(['--parallel', '2', ...gated], { input: lines('a', 'b') }).stdout, lines('a', 'b'));
  const expr = sluice(['--parallel', '2', '--filter', 'await Promise.resolve(line !== "40")'], { input });
  t.equal(expr.stdout, lines('5', '1', '20'));
  const flat = sluice(['--parallel', '2', '--flat-map', 'async l => [l, l]'], { input: lines('a', 'b') });
  t.equal(flat.stdout, lines('a', 'a', 'b', 'b'));
});

t.test('sluice --rate N/s paces the items', async (t) => {
  const started = Date.now();
  const r = sluice(['--rate', '20/s', '--map', 'line'], { input: lines('a', 'b', 'c', 'd', 'e') });
  t.equal(r.stdout, lines('a', 'b', 'c', 'd', 'e'));
  // Four waits of 50 ms after the first item; a generous bound, not a speed test.
  t.ok(Date.now() - started >= 190, `took ${Date.now() - started} ms`);
});

// `script` runs the command on a pseudo-terminal, where the progress bar is drawn.
const hasScript = spawnSync('script', ['--version']).status === 0;
t.test(
  'sluice draws a progress bar on a terminal, without colour under NO_COLOR, none with --quiet',
  { skip: !hasScript && 'no `script` command' },
  async (t) => {
    const dir = t.testdir({ 'access.log': lines(...accessLogLines({ seed: 1, lines: 30_000 })) });
    const slow = ['--count-by', 'l => { const end = performance.now() + 0.05; while (performance.now() < end); return l.length }', join(dir, 'access.log')];
    const run = (env: NodeJS.ProcessEnv, extra: string[] = []): string => {
      const command = [process.execPath, bin, ...extra, ...slow].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      const r = spawnSync('script', ['-qefc', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
      t.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    const colored = run({ NO_COLOR: '' });
    t.match(colored, /\r\s*\d+% \[\x1b\[36m#*\x1b\[0m-*\] [\d.]+ \w+ \/ [\d.]+ MiB {2}[\d.]+ \w+\/s {2}ETA \d+:\d\d/);
    // The bar is cleared before --count-by's results are printed on the same terminal.
    t.match(colored, /\r\x1b\[K {0,6}\d+ \d+\r?\n/);
    const plain = run({ NO_COLOR: '1' });
    t.match(plain, /\r\s*\d+% \[#*-*\] /);
    t.notMatch(plain, /\x1b\[36m/);
    t.notMatch(run({}, ['--quiet']), /\d+% \[/);
  },
);
