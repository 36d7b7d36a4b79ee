// Runs each program in examples/ on small data, as its npm script does (node --import tsx).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accessLogLines } from '../examples/gen-access-log.js';
import { root } from './fixtures/cli.js';

// Each example is a fresh Node process with the TypeScript loader: a few seconds each on a busy machine.
t.setTimeout(120_000);

function example(name: string, args: string[] = [], input = ''): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'examples', `${name}.ts`), ...args], {
    cwd: root,
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('every example has its npm script, and npm run demo runs log-stats on generated data', async (t) => {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const names = readdirSync(join(root, 'examples'))
    .filter((f) => f.endsWith('.ts') && f !== 'gen-access-log.ts' && !f.endsWith('.worker.ts'))
    .map((f) => f.slice(0, -3));
  t.same(names.sort(), ['bottleneck', 'csv-to-ndjson', 'fetch-all', 'hash-lines', 'log-stats', 'redis-workers', 'stdin-upper']);
  for (const name of names) t.match(scripts[`example:${name}`], `examples/${name}.ts`, name);
  t.match(scripts['demo'], /examples\/log-stats\.ts --generate \d+/);
});

t.test('log-stats counts statuses, endpoints, latency percentiles and bytes of a generated log', async (t) => {
  const lines = [...accessLogLines({ seed: 5, lines: 2000 })];
  const statuses = new Map<string, number>();
  let bytes = 0;
  for (const line of lines) {
    const fields = line.split(' ');
    statuses.set(fields[8]!, (statuses.get(fields[8]!) ?? 0) + 1);
    bytes += Number(fields[9]);
  }
  const generated = example('log-stats', ['--generate', '2000', '--seed', '5']);
  t.equal(generated.status, 0, generated.stderr);
  t.match(generated.stdout, `2,000 requests, ${(bytes / 2 ** 20).toFixed(1)} MiB served, 0 malformed lines`);
  for (const [status, count] of statuses) t.match(generated.stdout, new RegExp(`^${status} +${count.toLocaleString('en-US')} `, 'm'));
  t.match(generated.stdout, /^top endpoints +requests +share\n\/api\/items\/:id /m);
  t.match(generated.stdout, /^latency {2}p50 \d\.\d{3} s {2}p95 \d\.\d{3} s {2}p99 \d\.\d{3} s {2}max \d+\.\d{3} s$/m);

  // The same log from stdin, plus a line that is not a log line: the same figures, one malformed.
  const fromStdin = example('log-stats', [], `${lines.join('\n')}\nnot a log line\n`);
  t.equal(fromStdin.status, 0, fromStdin.stderr);
  t.match(fromStdin.stdout, '2,000 requests');
  t.match(fromStdin.stdout, '1 malformed lines');
  const figures = (out: string): string => out.replace(/, in [\d.]+ s/, '').replace(/\d+ malformed/, '');
  t.equal(figures(fromStdin.stdout), figures(generated.stdout));
});

t.test('csv-to-ndjson converts quoted fields and reports a bad row by its line', async (t) => {
  const sample = example('csv-to-ndjson');
  t.equal(sample.status, 0, sample.stderr);
  const records = sample.stdout
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, string>);
  t.equal(records.length, 4);
  t.same(records[0], { id: '1', name: 'Ada Lovelace', city: 'London', note: 'wrote the first program, 1843' });
  t.equal(records[1]!['name'], 'Grace "Amazing" Hopper');
  t.equal(records[2]!['note'], 'two\nlines');
  t.match(sample.stderr, 'csv-to-ndjson: sample:6: expected 4 fields (id, name, city, note), got 3 (skipped)');

  const strict = example('csv-to-ndjson', ['--strict']);
  t.equal(strict.status, 1);
  t.equal(strict.stdout.trimEnd().split('\n').length, 3, 'the rows before the bad one');

  const open = example('csv-to-ndjson', ['-'], 'a,b\n1,"never\nclosed\n');
  t.equal(open.stdout, '');
  t.match(open.stderr, '-:2: a quoted field is never closed');
});

t.test('fetch-all fetches through a bounded, rate-limited pool with retries and timeouts', async (t) => {
  const r = example('fetch-all', ['--count', '20', '--concurrency', '4', '--timeout', '800']);
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.same(
    lines.slice(0, 20).map((line) => /\/items\/(\d+)/.exec(line)?.[1]),
    Array.from({ length: 20 }, (_, i) => String(i + 1)),
    'results in input order',
  );
  t.match(r.stdout, /^200 \/items\/3 after 3 tries/m);
  t.match(r.stdout, /^FAILED \/items\/17 after 3 tries: TimeoutError/m);
  const summary = /20 URLs: 19 ok, 1 failed, 3 retried, in [\d.]+ s; at most (\d+) requests open at once \(limit 4\)/.exec(r.stdout);
  t.ok(summary, r.stdout);
  t.ok(Number(summary?.[1]) <= 4);
});

t.test('stdin-upper upper-cases stdin line by line', async (t) => {
  const r = example('stdin-upper', [], 'hello\nzoë\r\nlast');
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'HELLO\nZOË\nLAST\n');
});

t.test('hash-lines hashes every line on two threads, in input order, as one thread does', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-hash-lines-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Enough lines for several batches of 256 on each thread.
  const lines = [...accessLogLines({ seed: 7, lines: 3000 })];
  const file = join(dir, 'access.log');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const hash = (line: string, rounds = 1): string => {
    let digest = line;
    for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest('hex');
    return digest;
  };
  const r = example('hash-lines', ['--threads', '2', file]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, lines.map((line) => `${hash(line)} ${line}\n`).join(''));

  // From stdin: CRLF and a last line without a newline are lines like the others; --rounds hashes the digest again.
  const stretched = example('hash-lines', ['--threads', '2', '--rounds', '3'], 'a\nzoë\r\nlast');
  t.equal(stretched.status, 0, stretched.stderr);
  t.equal(stretched.stdout, ['a', 'zoë', 'last'].map((line) => `${hash(line, 3)} ${line}\n`).join(''));

  const help = example('hash-lines', ['--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /^Hashes every line .*--threads N/s);
  const bad = example('hash-lines', ['--threads', '0', file]);
  t.equal(bad.status, 2);
  t.match(bad.stderr, 'hash-lines: --threads must be an integer >= 1, got "0"');
});

t.test('bottleneck names the slow lookup, then runs it with parallel()', async (t) => {
  const r = example('bottleneck', ['300']);
  t.equal(r.status, 0, r.stderr);
  const [before, after] = r.stdout.split('lookups with parallel(16)');
  t.match(before, /one lookup at a time: 300 lines in [\d.]+ s/);
  t.match(before, /bottleneck: lookupCountry was busy \d+% of the time while format after it was starved/);
  t.match(after, /^: 300 lines in [\d.]+ s/);
  t.match(r.stdout, /parallel\(\) on the bottleneck alone: [\d.]+x sooner/);
  const bad = example('bottleneck', ['many']);
  t.equal(bad.status, 2);
  t.match(bad.stderr, 'bottleneck: LINES must be an integer >= 1, got "many"');
});
