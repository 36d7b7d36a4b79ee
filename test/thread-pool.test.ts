// How the thread pool starts its workers, seen from processes of their own: Node options that only a
// main thread may be given explicitly, and tsx, whose hooks Node 20 does not pass to workers.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from './fixtures/cli.js';

t.setTimeout(120_000);

const dist = join(root, 'dist', 'index.js');
const typed = join(root, 'test', 'fixtures', 'workers', 'typed.ts');
const basic = join(root, 'test', 'fixtures', 'workers', 'basic.mjs');

function node(args: string[], code: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...args, '--input-type=module', '-e', code], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const program = (module: string, items: unknown[]): string => `
import { threads, toArray } from ${JSON.stringify(dist)};
const out = await toArray(${JSON.stringify(items)}, threads(${JSON.stringify(module)}, { threads: 2 }));
console.log(JSON.stringify(out));
`;

t.test('workers inherit V8 options such as --max-old-space-size and --expose-gc, and leave out -e', async (t) => {
  const r = node(['--max-old-space-size=512', '--expose-gc', '--stack-size=2000'], program(basic, [1, 2, 3]));
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, '[2,4,6]\n');
});

t.test('under tsx, a worker loads a .ts module (Node 20 does not pass tsx to workers: the worker registers it)', async (t) => {
  const r = node(['--import', 'tsx'], program(typed, ['a', 'bb', 'ccc']));
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, '[1,2,3]\n');
});
