// The package as users get it: `npm pack` from a copy of the tree without dist/ (as a fresh clone has
// it), the tarball installed into temporary projects, then imported, run as a command and type-checked
// with a default TypeScript setup. Installs prefer npm's cache; only what is not there comes from the
// registry (the newest @types/node, and the package's dependencies on a machine that never installed them).
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// Packing builds dist/ and each project installs a tarball; on a loaded 2-core machine that is 30-60 s.
t.setTimeout(240_000);

const root = fileURLToPath(new URL('..', import.meta.url));
const fixtures = fileURLToPath(new URL('fixtures/package/', import.meta.url));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; engines: { node: string } };
const work = mkdtempSync(join(tmpdir(), 'sluice-package-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

// npm run passes its settings down as npm_* variables (npm_config_local_prefix would point the child
// npm at this repo); the children here are not ours to cover (see DEVELOPERS.md, Coverage).
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
env._TAPJS_PROCESSINFO_COVERAGE_ = '0';

interface Run {
  status: number | null;
  stdout: string;
  /** The command line and everything it printed, for a failure message. */
  report: string;
}

function run(command: string, args: string[], cwd: string, input?: string): Run {
  const r = spawnSync(command, args, { cwd, env, input, encoding: 'utf8', timeout: 120_000 });
  const stdout = r.stdout ?? '';
  const report = `$ ${[command, ...args].join(' ')} (in ${cwd})\nexit ${r.status ?? r.signal}\n${stdout}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
  return { status: r.status, stdout, report };
}

const npm = (args: string[], cwd: string): Run => run('npm', args, cwd);
const typecheck = (args: string[], cwd: string): Run => run(process.execPath, [tsc, ...args], cwd);

/** Passes when the command exited 0; shows its command line and output when it did not. */
function succeeded(t: Test, r: Run, message: string): boolean {
  return t.equal(r.status, 0, message, { output: r.report });
}

/** A project of the user's, with the tarball installed and the fixtures copied in. */
function project(name: string, installArgs: string[]): { dir: string; install: Run } {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type: 'module' }));
  for (const file of readdirSync(fixtures)) cpSync(join(fixtures, file), join(dir, file));
  return { dir, install: npm(['install', '--no-audit', '--no-fund', ...installArgs], dir) };
}

let tarball: string | undefined;
let files: string[] = [];

t.test('npm pack from a fresh clone builds dist/ and ships it with the LICENSE, without source maps', async (t) => {
  const clone = join(work, 'clone');
  const ignored = new Set(['node_modules', 'dist', '.git', '.tap', 'coverage', 'tmp']);
  cpSync(root, clone, { recursive: true, filter: (src) => !ignored.has(relative(root, src).split(sep)[0] ?? '') });
  // The build needs the dev tools: share this checkout's instead of installing them again.
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir');

  const pack = npm(['pack', '--json', '--pack-destination', work], clone);
  if (!succeeded(t, pack, 'npm pack')) return;
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info!.filename);
  files = info!.files.map((f) => f.path).sort();

  for (const file of ['package.json', 'LICENSE', 'README.md', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js']) {
    t.ok(files.includes(file), `ships ${file}`);
  }
  t.same(
    files.filter((f) => !f.startsWith('dist/') && !['package.json', 'LICENSE', 'README.md', 'CHANGELOG.md'].includes(f)),
    [],
    'ships nothing from outside dist/ but the documents',
  );
  t.same(
    files.filter((f) => f.endsWith('.map')),
    [],
    'ships no source maps (it does not ship the sources they point at)',
  );
  const mapped = files.filter((f) => f.endsWith('.js') && readFileSync(join(clone, f), 'utf8').includes('sourceMappingURL'));
  t.same(mapped, [], 'no shipped .js points at a source map');
  t.same(
    files.filter((f) => f.startsWith('dist/cli/') && f.endsWith('.d.ts')),
    [],
    "ships no declarations for the command's modules",
  );
  t.match(readFileSync(join(clone, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) 2026 the sluice authors\n/, 'the LICENSE is MIT');
});

t.test('the packed package installs and runs both entry points and the bin', async (t) => {
  if (tarball === undefined) return t.fail('no tarball: packing failed above');
  const { dir, install } = project('runs', ['--prefer-offline', tarball]);
  if (!succeeded(t, install, 'npm install')) return;

  const imported = run(process.execPath, ['run.mjs'], dir);
  if (succeeded(t, imported, "an .mjs file imports 'sluice' and 'sluice/testing'")) {
    t.same(JSON.parse(imported.stdout), { lengths: [1, 2, 3], leakError: 'LeakError' }, 'and runs them');
  }

  const bin = join(dir, 'node_modules', '.bin', 'sluice');
  const version = run(bin, ['--version'], dir);
  t.equal(version.stdout, `${manifest.version}\n`, 'sluice --version prints the version', { output: version.report });
  const filtered = run(bin, ['--filter', 'line.length > 1'], dir, 'a\nbb\nccc\n');
  t.equal(filtered.stdout, 'bb\nccc\n', 'sluice --filter filters stdin', { output: filtered.report });
  succeeded(t, filtered, 'and exits 0');
});

// A default setup: strict, nodenext, no skipLibCheck (so sluice's own .d.ts files are checked), default lib.
const strictNodeNext = ['--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--noEmit'];

t.test("the packed types check under tsc --strict --module nodenext without skipLibCheck, with this project's @types/node", async (t) => {
  if (tarball === undefined) return t.fail('no tarball: packing failed above');
  const { dir, install } = project('types-pinned', ['--prefer-offline', tarball]);
  if (!succeeded(t, install, 'npm install')) return;
  mkdirSync(join(dir, 'node_modules', '@types'));
  symlinkSync(join(root, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');

  // --listFiles: which of the package's .d.ts files the entry points reach (checked below).
  const byDefault = typecheck([...strictNodeNext, '--listFiles', 'consumer.ts', 'consumer-node10.ts'], dir);
  succeeded(t, byDefault, 'default lib');
  const esnext = typecheck([...strictNodeNext, '--lib', 'esnext', 'consumer.ts'], dir);
  succeeded(t, esnext, '--lib esnext');

  // `typesVersions` maps the subpath for resolvers that ignore `exports`.
  const node10 = typecheck(['--strict', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'node10', '--noEmit', 'consumer-node10.ts'], dir);
  succeeded(t, node10, "--moduleResolution node10 finds 'sluice/testing'");

  // A .d.ts no entry point reaches is dead weight, and a sign that `files` is out of date.
  const installed = join(dir, 'node_modules', 'sluice') + sep;
  const reached = new Set(
    byDefault.stdout
      .split('\n')
      .filter((f) => f.startsWith(installed))
      .map((f) => relative(installed, f).split(sep).join('/')),
  );
  t.same(
    files.filter((f) => f.endsWith('.d.ts') && !reached.has(f)),
    [],
    'every shipped .d.ts is reached from an entry point (exclude the rest in package.json "files")',
  );
});

t.test('the packed types check under tsc --strict --module nodenext without skipLibCheck, with the newest @types/node', async (t) => {
  if (tarball === undefined) return t.fail('no tarball: packing failed above');
  // This check needs the registry: fail, never skip, when it cannot be reached.
  const { dir, install } = project('types-latest', ['--prefer-online', '--fetch-retries', '1', '--fetch-timeout', '30000', tarball, '@types/node@latest']);
  if (!succeeded(t, install, 'the newest @types/node installs from the npm registry (this check needs it)')) return;
  const types = JSON.parse(readFileSync(join(dir, 'node_modules', '@types', 'node', 'package.json'), 'utf8')) as { version: string };
  t.comment(`@types/node ${types.version}`);

  succeeded(t, typecheck([...strictNodeNext, 'consumer.ts'], dir), 'default lib');
  succeeded(t, typecheck([...strictNodeNext, '--lib', 'esnext', 'consumer.ts'], dir), '--lib esnext');
});

t.test('npm install leaves the committed package-lock.json unchanged', async (t) => {
  const dir = join(work, 'lock');
  mkdirSync(dir);
  for (const file of ['package.json', 'package-lock.json']) cpSync(join(root, file), join(dir, file));
  // Only the lockfile is written, from the lockfile itself: offline, with an empty cache, nothing installed.
  const install = npm(
    ['install', '--package-lock-only', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--cache', join(work, 'empty-cache')],
    dir,
  );
  succeeded(t, install, 'package-lock.json has everything package.json asks for');
  t.equal(readFileSync(join(dir, 'package-lock.json'), 'utf8'), readFileSync(join(root, 'package-lock.json'), 'utf8'), 'package-lock.json is unchanged');
  t.notOk(existsSync(join(dir, 'node_modules')), 'installed nothing');
});

t.test('the README states the Node.js version that package.json engines requires', async (t) => {
  const required = /^>=\s*(\d+(?:\.\d+)*)$/.exec(manifest.engines.node)?.[1];
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const stated = new Set([...readme.matchAll(/Node(?:\.js)? >= ?(\d+(?:\.\d+)*)/g)].map((m) => m[1]));
  t.ok(stated.size > 0, 'the README says which Node.js it needs');
  t.same([...stated], [required], `every "Node.js >= …" in the README says ${manifest.engines.node}`);
});
