// The CLI's flow control: --parallel auto, --buffer with --drop, --partition-by.
import t from 'tap';
import { ensureBuilt, sluice } from './fixtures/cli.js';

ensureBuilt();

const numbers = (n: number): string => Array.from({ length: n }, (_, i) => `${i + 1}\n`).join('');

t.test('--parallel auto runs an async stage with an adaptive limit, output in input order', async (t) => {
  const r = sluice(['--parallel', 'auto', '--map', 'async (l) => { await new Promise((r) => setTimeout(r, 1)); return l * 2; }'], { input: numbers(300) });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, Array.from({ length: 300 }, (_, i) => `${(i + 1) * 2}\n`).join(''));
  const bad = sluice(['--parallel', 'lots', '--map', 'async (l) => l']);
  t.equal(bad.status, 2);
  t.match(bad.stderr, `--parallel must be an integer >= 1 or 'auto', got "lots"`);
  const threads = sluice(['--parallel', 'auto', '--threads', '2', '--map', 'async (l) => l']);
  t.equal(threads.status, 2);
  t.match(threads.stderr, '--parallel auto adapts async stages on the main thread');
});

t.test('--buffer N without --drop holds the input back and loses nothing', async (t) => {
  const r = sluice(['--buffer', '4', '--map', 'async (l) => { await new Promise((r) => setTimeout(r, 1)); return l; }'], { input: numbers(200) });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, numbers(200));
  t.equal(r.stderr, '');
});

t.test('--buffer N --drop oldest|newest in front of a slow stage: in = out + dropped, told on stderr and in --stats', async (t) => {
  for (const policy of ['oldest', 'newest']) {
    const slow = 'async (l) => { await new Promise((r) => setTimeout(r, 2)); return l; }';
    const r = sluice(['--buffer', '8', '--drop', policy, '--map', slow, '--stats-json'], { input: numbers(2000) });
    t.equal(r.status, 0, r.stderr);
    const out = r.stdout.split('\n').filter(Boolean).map(Number);
    const stats = JSON.parse(r.stderr.split('\n').filter(Boolean).at(-1)!) as {
      linesIn: number;
      linesOut: number;
      dropped: number;
      stages: { name: string; dropped: number }[];
    };
    t.equal(stats.linesIn, 2000, policy);
    t.equal(out.length + stats.dropped, 2000, `${policy}: every line is out or counted as dropped`);
    t.ok(stats.dropped > 0, `${policy}: a 2 ms stage behind 2000 lines read at once drops some (${stats.dropped})`);
    t.same(
      out,
      [...out].sort((a, b) => a - b),
      `${policy}: what is kept keeps its order`,
    );
    t.equal(stats.stages.find((s) => s.name === 'buffer')?.dropped, stats.dropped, `${policy}: the buffer's row counts them`);
    t.match(r.stderr, `--buffer was full: dropped ${stats.dropped} items (--drop ${policy})`);
    if (policy === 'oldest') t.equal(out.at(-1), 2000, 'drop oldest keeps the last line');
    if (policy === 'newest') t.equal(out[0], 1, 'drop newest keeps the first line');
  }
  const table = sluice(['--buffer', '2', '--drop', 'oldest', '--map', 'async (l) => { await new Promise((r) => setTimeout(r, 2)); return l; }', '--stats'], {
    input: numbers(500),
  });
  t.equal(table.status, 0, table.stderr);
  t.match(table.stderr, /^sluice: stage\s+in\s+out\s+dropped\s+busy/m);
  const quiet = sluice(['-q', '--buffer', '2', '--drop', 'newest', '--map', 'async (l) => { await new Promise((r) => setTimeout(r, 2)); return l; }'], {
    input: numbers(500),
  });
  t.equal(quiet.stderr, '', '-q says nothing');
  const usage = sluice(['--drop', 'oldest', '--map', 'l']);
  t.equal(usage.status, 2);
  t.match(usage.stderr, '--drop needs --buffer N');
  const policy = sluice(['--buffer', '2', '--drop', 'middle']);
  t.match(policy.stderr, '--drop must be oldest or newest, got "middle"');
  const size = sluice(['--buffer', '0']);
  t.match(size.stderr, '--buffer must be an integer >= 1, got "0"');
});

t.test('--partition-by keeps each key in order, runs keys at once, and names FILE:LINE on an error', async (t) => {
  // Key k's lines are slow for small k: without per-key order, a key's later lines would overtake.
  const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ user: `u${i % 7}`, n: i }));
  const map = '(await new Promise((r) => setTimeout(r, Number(rec.user.slice(1)) % 3)), rec.user + " " + rec.n + " " + NR)';
  const r = sluice(['--json', '--partition-by', 'rec.user', '--parallel', '4', '--map', map], { input: `${lines.join('\n')}\n` });
  t.equal(r.status, 0, r.stderr);
  const out = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '));
  t.equal(out.length, 300);
  for (let k = 0; k < 7; k++) {
    const ns = out.filter(([user]) => user === `u${k}`).map(([, n]) => Number(n));
    t.same(
      ns,
      ns.map((_, i) => k + 7 * i),
      `u${k} in order`,
    );
  }
  t.ok(
    out.every(([, n, nr]) => Number(nr) === Number(n) + 1),
    'NR is the line number inside the partition too',
  );

  const failing = sluice(
    ['--json', '--partition-by', 'rec.user', '--parallel', '2', '--map', 'async (rec) => { if (rec.n === 41) throw new Error("boom"); return rec.n; }', '-'],
    { input: `${lines.join('\n')}\n` },
  );
  t.equal(failing.status, 1);
  t.equal(failing.stderr, 'sluice: <stdin>:42: Error: boom\n');

  const skipped = sluice(
    [
      '--json',
      '--skip-errors',
      '--partition-by',
      'rec.user',
      '--parallel',
      '2',
      '--map',
      'async (rec) => { if (rec.n % 100 === 5) throw new Error("boom"); return rec.n; }',
    ],
    { input: `${lines.join('\n')}\n` },
  );
  t.equal(skipped.status, 0, skipped.stderr);
  t.equal(skipped.stdout.split('\n').filter(Boolean).length, 297);
  t.match(skipped.stderr, 'skipped 3 lines with errors');

  const badKey = sluice(['--json', '--partition-by', 'rec.user.name', '--parallel', '2', '--map', 'async (rec) => rec.n'], {
    input: '{"user":"a"}\n{"n":1}\n',
  });
  t.equal(badKey.status, 1);
  t.match(badKey.stderr, /:2\b/, 'a key that fails names its line');

  t.match(sluice(['--partition-by', 'line']).stderr, '--partition-by needs --parallel N');
  t.match(sluice(['--partition-by', 'line', '--parallel', 'auto']).stderr, '--partition-by needs --parallel N');
  t.match(sluice(['--partition-by', 'async (l) => l', '--parallel', '2', '--map', 'async (l) => l']).stderr, '--partition-by EXPR must give the key at once');
  t.match(sluice(['--partition-by', 'line', '--parallel', '2', '--threads', '2', '--map', 'async (l) => l']).stderr, '--partition-by runs on the main thread');
});
