// The `sluice` command on real-world input: line endings kept, BOM, gzip, binary, awk's variables,
// CSV/TSV, output formats and exit codes. Spawns the built command, as test/cli.test.ts does.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { bin, ensureBuilt, sluice } from './fixtures/cli.js';

ensureBuilt();
// Some 60 runs of the command at ~0.3 s each, more on a loaded machine.
t.setTimeout(180_000);

const lines = (...xs: string[]): string => xs.map((x) => `${x}\n`).join('');

t.test('sluice -i keeps CRLF line endings and a missing final newline (strip trailing blanks in place)', async (t) => {
  const dir = t.testdir({ 'win.txt': 'a  \r\nb\t\r\nc  ', 'unix.txt': 'x \ny \n' });
  const r = sluice(['-i', '--map', 'line.trimEnd()', join(dir, 'win.txt'), join(dir, 'unix.txt')]);
  t.equal(r.status, 0, r.stderr);
  t.equal(readFileSync(join(dir, 'win.txt'), 'utf8'), 'a\r\nb\r\nc', 'CRLF stays CRLF, and no final newline is added');
  t.equal(readFileSync(join(dir, 'unix.txt'), 'utf8'), 'x\ny\n');
  const out = join(dir, 'out.txt');
  t.equal(sluice(['-o', out, '--map', 'line.toUpperCase()', join(dir, 'win.txt')]).status, 0);
  t.equal(readFileSync(out, 'utf8'), 'A\r\nB\r\nC');
});

t.test('sluice drops a UTF-8 BOM at the start of the input', async (t) => {
  const bom = '\uFEFF';
  t.equal(sluice(['--json', '--map', 'rec.a'], { input: `${bom}{"a":1}\n` }).stdout, lines('1'));
  t.equal(sluice(['--map', 'line.length'], { input: `${bom}abc\n` }).stdout, lines('3'));
  const dir = t.testdir({ 'bom.csv': `${bom}name,n\r\nada,1\r\n` });
  t.equal(sluice(['--csv', '--map', 'rec.name', join(dir, 'bom.csv')]).stdout, 'ada\r\n');
});

t.test('sluice decompresses gzip input, by its magic bytes, from files and stdin', async (t) => {
  const text = lines('GET /a 200', 'GET /b 404', 'GET /c 200');
  const dir = t.testdir({
    'log.gz': gzipSync(text),
    'log.txt.gz': gzipSync(text),
    'bad.gz': Buffer.concat([gzipSync(text).subarray(0, 20), Buffer.from('junk')]),
  });
  const file = sluice(['--count-by', '$3', join(dir, 'log.gz')]);
  t.equal(file.status, 0, file.stderr);
  t.equal(file.stdout, lines('      2 200', '      1 404'));
  const stdin = spawnSync(process.execPath, [bin, '--map', '$2'], { input: gzipSync(text), encoding: 'utf8' });
  t.equal(stdin.stdout, lines('/a', '/b', '/c'));
  const bad = sluice([join(dir, 'bad.gz')]);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /^sluice: .*bad\.gz: cannot decompress: /);
});

t.test("sluice gives expressions awk's NF, $NF, $(n), NR, FNR and FILENAME", async (t) => {
  const dir = t.testdir({ 'a.txt': lines('x y z', 'u v'), 'b.txt': lines('w') });
  const r = sluice(['--map', '[FILENAME.slice(-5), NR, FNR, NF, $NF, $(NF - 1)].join(" ")', join(dir, 'a.txt'), join(dir, 'b.txt')]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, lines('a.txt 1 1 3 z y', 'a.txt 2 2 2 v u', 'b.txt 3 1 1 w w'), '$(0) is the whole line, as in awk');
});

t.test('sluice -F sets the field separator: one character literally, more as a RegExp', async (t) => {
  t.equal(sluice(['-F', ',', '--map', '$2 + "|" + NF'], { input: lines('a,,c', 'd') }).stdout, lines('|3', '|1'));
  t.equal(sluice(['-F', '\\t', '--map', '$2'], { input: lines('a b\tc') }).stdout, lines('c'));
  t.equal(sluice(['--field-separator', '[:;]+', '--map', '$3'], { input: lines('a:b;;c') }).stdout, lines('c'));
  t.equal(sluice(['-F', '', '--map', '$1'], { input: 'x\n' }).status, 2);
});

t.test('sluice --skip N drops the first N lines of each input', async (t) => {
  const dir = t.testdir({ 'a.txt': lines('header', '1'), 'b.txt': lines('header', '2') });
  t.equal(sluice(['--skip', '1', join(dir, 'a.txt'), join(dir, 'b.txt')]).stdout, lines('1', '2'));
});

t.test('sluice --arg NAME=VALUE gives a value to the expressions, never spliced into their text', async (t) => {
  const r = sluice(['--arg', 'who=") + process.exit(3) + ("', '-v', 'n=2', '--map', 'who + n'], { input: 'x\n' });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, lines('") + process.exit(3) + ("2'));
  t.equal(sluice(['--arg', 'novalue', '--map', 'line'], { input: 'x\n' }).status, 2);
  t.match(sluice(['--arg', 'line=1', '--map', 'line'], { input: 'x\n' }).stderr, /--arg "line": not a name an expression can use/);
});

t.test("sluice --begin and --end share variables with every expression; --end's value is printed", async (t) => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the template literal is the CLI's --end expression.
  const r = sluice(['--begin', 'total = 0, n = 0', '--filter', '(total += Number($2), n++, false)', '--end', '`${n} lines, total ${total}`'], {
    input: lines('a 1', 'b 2', 'c 3'),
  });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, lines('3 lines, total 6'));
});

t.test('sluice --csv parses quoted fields, separators, quotes and newlines in quotes, and CRLF, into records by header', async (t) => {
  const csv = 'id,name,note\r\n1,"Lovelace, Ada","said ""hi""\r\nand left"\r\n2,Turing,\r\n';
  const r = sluice(['--csv'], { input: csv });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, '{"id":"1","name":"Lovelace, Ada","note":"said \\"hi\\"\\r\\nand left"}\r\n{"id":"2","name":"Turing","note":""}\r\n');
  t.equal(sluice(['--csv', '--no-header', '--map', 'rec[1]'], { input: 'a,b\n"x,y",z\n' }).stdout, lines('b', 'z'));
  t.equal(sluice(['--csv', '--no-header', '--map', '$2'], { input: 'a,b\n' }).stdout, lines('b'), '$N is the Nth cell of a record');
  t.equal(sluice(['--tsv', '--map', 'rec.b'], { input: 'a\tb\n1\t"2"\n' }).stdout, lines('"2"'), 'TSV has no quoting');
  t.equal(sluice(['--csv', '--skip', '1'], { input: 'exported by X\nk\nv\n' }).stdout, lines('{"k":"v"}'));
});

t.test('sluice --csv names the line of a malformed record, and of a record an expression fails on', async (t) => {
  const bad = sluice(['--csv'], { input: 'a,b\n1,2\n3,"x"y\n' });
  t.equal(bad.status, 1);
  t.match(bad.stderr, /^sluice: <stdin>:3: Invalid Closing Quote/);
  const failing = sluice(['--csv', '--map', 'JSON.parse(rec.b)'], { input: 'a,b\n1,2\n3,{x\n' });
  t.equal(failing.status, 1);
  t.match(failing.stderr, /^sluice: <stdin>:3: SyntaxError/);
  const skipped = sluice(['--csv', '--skip-errors', '--map', 'rec.a'], { input: 'a,b\n1,2\n3,x,extra\n4,5\n' });
  t.equal(skipped.status, 0, skipped.stderr);
  t.equal(skipped.stdout, lines('1', '4'));
  t.match(skipped.stderr, /skipped 1 line with errors; the first: <stdin>:3: Invalid Record Length/);
});

t.test('sluice --to-csv and --to-tsv write records as rows under a header; --to-json writes every item as JSON', async (t) => {
  const input = lines('{"a":1,"b":"x,y"}', '{"a":2,"b":"q\\"r\\nz"}');
  t.equal(sluice(['--json', '--to-csv'], { input }).stdout, lines('a,b', '1,"x,y"', '2,"q""r\nz"'));
  t.equal(sluice(['--json', '--to-tsv'], { input }).stdout, lines('a\tb', '1\tx,y', '2\tq"r\\nz'));
  const extra = sluice(['--json', '--to-csv'], { input: lines('{"a":1}', '{"a":2,"c":3}') });
  t.equal(extra.status, 1, 'a column the header does not have is an error, not lost data');
  t.match(extra.stderr, /<stdin>:2: TypeError: --to-csv: the record has a column "c"/);
  t.equal(sluice(['--to-json'], { input: lines('a "b"', 'c') }).stdout, lines('"a \\"b\\""', '"c"'));
  t.equal(sluice(['--json', '--to-csv', '--to-json'], { input }).status, 2);
  // The header is a line as any other: ended as the input's lines are.
  t.equal(sluice(['--to-csv', '--map', '({ x: line })'], { input: 'a\r\nb\r\n' }).stdout, 'x\r\na\r\nb\r\n');
  t.equal(sluice(['--to-tsv', '--count-by', 'line'], { input: 'a\r\nb\r\na\r\n' }).stdout, 'key\tcount\r\na\t2\r\nb\t1\r\n');
});

t.test('sluice --json writes a record that passes unchanged as its original text', async (t) => {
  const input = lines('{"id":12345678901234567890,"x":1e400,"k":1,"k":2}', '{"id":1}');
  t.equal(sluice(['--json', '--filter', 'rec.id !== 1'], { input }).stdout, lines('{"id":12345678901234567890,"x":1e400,"k":1,"k":2}'));
  // A changed record is JSON.stringify's: what JSON.parse could not keep is gone (see the README).
  t.equal(
    sluice(['--json', '--map', '({ ...rec, seen: true })', '--take', '1'], { input }).stdout,
    lines('{"id":12345678901234567000,"x":null,"k":2,"seen":true}'),
  );
});

t.test('sluice writes Sets and Maps as JSON arrays and objects, never {}', async (t) => {
  t.equal(sluice(['--map', 'new Set(line.split(""))'], { input: lines('aba') }).stdout, lines('["a","b"]'));
  t.equal(sluice(['--map', 'new Map([[line, 1]])'], { input: lines('k') }).stdout, lines('{"k":1}'));
  t.equal(sluice(['--map', '10n ** 20n'], { input: lines('x') }).stdout, lines('100000000000000000000'));
});

t.test('sluice --parallel counts an async generator as async', async (t) => {
  const r = sluice(['--parallel', '2', '--flat-map', 'async function* (l) { yield l; yield l + "!" }'], { input: lines('a', 'b') });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, lines('a', 'a!', 'b', 'b!'));
});

t.test('sluice --skip-errors exits 1 when every line failed', async (t) => {
  const all = sluice(['--skip-errors', '--map', 'JSON.parse(line)'], { input: lines('x', 'y') });
  t.equal(all.status, 1);
  t.match(all.stderr, /skipped 2 lines with errors/);
  const some = sluice(['--skip-errors', '--map', 'JSON.parse(line)'], { input: lines('x', '1') });
  t.equal(some.status, 0);
  t.equal(some.stdout, lines('1'));
});

t.test("sluice exits 1, leaving no temp file, when an expression's promise never settles", async (t) => {
  const dir = t.testdir({});
  const out = join(dir, 'out.txt');
  const r = sluice(['-o', out, '--map', 'async (l) => new Promise(() => {})'], { input: lines('a') });
  t.equal(r.status, 1);
  t.match(r.stderr, /the run cannot finish: an expression returned a promise that never settles/);
  t.same(readdirSync(dir), [], 'neither the output nor its temp file');
});
