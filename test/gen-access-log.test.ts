import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { accessLogLines, accessLogStream, parseSize, writeAccessLog } from '../examples/gen-access-log.js';

const script = fileURLToPath(new URL('../examples/gen-access-log.ts', import.meta.url));
const LINE = /^\S+ - \S+ \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "[A-Z]+ \S+ HTTP\/\d\.\d" [1-5]\d\d \d+ "[^"]*" "[^"]*" \d+\.\d{3}$/u;
const nonAscii = (line: string): boolean => /[^\x00-\x7f]/.test(line);

t.test('accessLogStream() gives the same bytes for the same seed, whatever the chunk size', async (t) => {
  const big = await buffer(accessLogStream({ seed: 42, bytes: 2 << 20 }));
  const small = await buffer(accessLogStream({ seed: 42, bytes: 2 << 20, chunkSize: 1024 }));
  t.ok(big.equals(small));
  t.ok(big.length <= 2 << 20 && big.length > (2 << 20) - 1024, `size ${big.length}`);
  const lines = [...accessLogLines({ seed: 42, bytes: 2 << 20 })];
  t.equal(`${lines.join('\n')}\n`, big.toString('utf8'));
});

t.test('accessLogStream() gives other bytes for another seed', async (t) => {
  const a = await buffer(accessLogStream({ seed: 1, lines: 100 }));
  const b = await buffer(accessLogStream({ seed: 2, lines: 100 }));
  t.notOk(a.equals(b));
});

t.test('accessLogStream() pushes chunks of whole lines, none larger than chunkSize', async (t) => {
  const chunks: Buffer[] = [];
  for await (const chunk of accessLogStream({ seed: 3, bytes: 100_000, chunkSize: 4096 })) chunks.push(chunk as Buffer);
  t.ok(chunks.length > 20);
  t.ok(chunks.every((chunk) => chunk.length <= 4096 && chunk[chunk.length - 1] === 10));
});

t.test('accessLogLines() writes lines in combined log format with the status in field 9 and the latency last', async (t) => {
  let bad = 0;
  let count = 0;
  const statuses = new Set<string>();
  for (const line of accessLogLines({ seed: 5, lines: 20_000, nonAsciiRatio: 0.2 })) {
    count++;
    const latency = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!LINE.test(line) || !(latency > 0 && latency <= 30)) bad++;
    statuses.add(line.split(' ')[8]!);
  }
  t.equal(count, 20_000);
  t.equal(bad, 0);
  t.ok(statuses.has('200') && statuses.has('404') && statuses.has('500'), [...statuses].join(' '));
});

t.test('accessLogLines() advances the timestamp one second every 64 lines', async (t) => {
  const stamps = [...accessLogLines({ seed: 9, lines: 200 })].map((line) => line.slice(line.indexOf('[') + 1, line.indexOf(']')));
  t.equal(stamps[0], '10/Oct/2026:00:00:00 +0000');
  t.equal(stamps[63], '10/Oct/2026:00:00:00 +0000');
  t.equal(stamps[64], '10/Oct/2026:00:00:01 +0000');
  t.equal(stamps[199], '10/Oct/2026:00:00:03 +0000');
});

t.test('accessLogLines() honours nonAsciiRatio roughly, and 0 gives pure ASCII', async (t) => {
  const share = (ratio: number): number => [...accessLogLines({ seed: 11, lines: 20_000, nonAsciiRatio: ratio })].filter(nonAscii).length / 20_000;
  t.equal(share(0), 0);
  t.equal(share(1), 1);
  t.ok(Math.abs(share(0.03) - 0.03) < 0.006, `0.03 gave ${share(0.03)}`);
  t.ok(Math.abs(share(0.5) - 0.5) < 0.03, `0.5 gave ${share(0.5)}`);
  const ascii = await buffer(accessLogStream({ seed: 11, bytes: 1 << 20, nonAsciiRatio: 0 }));
  t.ok(ascii.every((byte) => byte < 0x80));
});

t.test('accessLogStream() stops at whichever of bytes and lines comes first', async (t) => {
  t.equal((await buffer(accessLogStream({ lines: 10, bytes: 1 << 20 }))).toString().split('\n').length, 11);
  t.ok((await buffer(accessLogStream({ lines: 1e6, bytes: 5000 }))).length <= 5000);
  t.equal((await buffer(accessLogStream({ lines: 0 }))).length, 0);
  t.equal((await buffer(accessLogStream({ bytes: 10 }))).length, 0);
});

t.test('accessLogStream() refuses bad options when created', async (t) => {
  t.throws(
    () => accessLogStream({ nonAsciiRatio: 2 }),
    new RangeError('accessLogStream(): options.nonAsciiRatio must be a number from 0 to 1, got 2 (number)'),
  );
  t.throws(() => accessLogStream({ nonAsciiRatio: '0.1' as never }), TypeError);
  t.throws(() => accessLogStream({ seed: -1 }), new RangeError('accessLogStream(): options.seed must be an integer >= 0, got -1 (number)'));
  t.throws(() => accessLogStream({ chunkSize: 100 }), new RangeError('accessLogStream(): options.chunkSize must be an integer >= 1024, got 100 (number)'));
  t.throws(() => accessLogStream({ lines: 1.5 }), RangeError);
  t.throws(() => accessLogLines({ bytes: NaN }).next(), new RangeError('accessLogLines(): options.bytes must be an integer >= 0, got NaN (number)'));
  await t.rejects(writeAccessLog('never-written.log', {}), TypeError);
});

t.test('writeAccessLog() writes the bytes the stream gives and says how many', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gen-access-log-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'access.log');
  const summary = await writeAccessLog(file, { seed: 4, bytes: 3 << 20 });
  const written = await readFile(file);
  t.ok(written.equals(await buffer(accessLogStream({ seed: 4, bytes: 3 << 20 }))));
  t.same(summary, { lines: written.toString().split('\n').length - 1, bytes: written.length });
});

t.test('parseSize() reads binary and decimal suffixes', async (t) => {
  t.equal(parseSize('1GiB'), 2 ** 30);
  t.equal(parseSize('256MiB'), 256 * 2 ** 20);
  t.equal(parseSize('64k'), 64_000);
  t.equal(parseSize('10M'), 10_000_000);
  t.equal(parseSize('1.5KiB'), 1536);
  t.equal(parseSize('2GB'), 2e9);
  t.equal(parseSize('1e6'), 1e6);
  t.equal(parseSize('20_000'), 20_000);
  t.throws(() => parseSize('lots'), RangeError);
  t.throws(() => parseSize('0.5'), RangeError);
  t.throws(() => parseSize('-1'), RangeError);
});

t.test('gen-access-log CLI writes the same bytes as the stream, to stdout or --out', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gen-access-log-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const expected = await buffer(accessLogStream({ seed: 8, lines: 1000, nonAsciiRatio: 0.1 }));
  const run = spawnSync(process.execPath, ['--import', 'tsx', script, '--lines', '1000', '--seed', '8', '--non-ascii', '0.1']);
  t.equal(run.status, 0, run.stderr.toString());
  t.ok(run.stdout.equals(expected));
  const out = join(dir, 'out.log');
  const toFile = spawnSync(process.execPath, ['--import', 'tsx', script, '--lines', '1000', '--seed', '8', '--non-ascii', '0.1', '-o', out]);
  t.equal(toFile.status, 0, toFile.stderr.toString());
  t.ok((await readFile(out)).equals(expected));
});

t.test('gen-access-log CLI exits 2 with usage on bad arguments, 0 on --help', async (t) => {
  const noSize = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8' });
  t.equal(noSize.status, 2);
  t.match(noSize.stderr, /give --bytes SIZE or --lines N[\s\S]*Usage:/);
  const badRatio = spawnSync(process.execPath, ['--import', 'tsx', script, '--lines', '5', '--non-ascii', '7'], { encoding: 'utf8' });
  t.equal(badRatio.status, 2);
  t.match(badRatio.stderr, /nonAsciiRatio must be a number from 0 to 1/);
  const help = spawnSync(process.execPath, ['--import', 'tsx', script, '--help'], { encoding: 'utf8' });
  t.equal(help.status, 0);
  t.match(help.stdout, /^Usage:/);
});

t.test('gen-access-log CLI exits 0 quietly when its reader closes the pipe early', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--bytes', '1GiB'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise((resolve) => child.on('close', resolve));
  t.equal(code, 0);
  t.equal(stderr, '');
});
