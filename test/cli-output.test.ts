// `sluice -o FILE` and `sluice -i FILE`: what they write to and what they leave behind, tested by
// spawning the built command. Device nodes of our own and symlinks to /dev/null and /dev/full in a
// temp folder stand in for the real devices, so that a regression (as root, a rename over the
// device) could only ever replace a link or node of the test's own.
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bin, ensureBuilt, exited, feedNumbers, root, sluice, start, text } from './fixtures/cli.js';

ensureBuilt();
// About 30 runs of the command at ~0.3 s each, more on a busy machine.
t.setTimeout(120_000);

const lines = (...xs: string[]): string => xs.map((x) => `${x}\n`).join('');
/** The lines 0 … n-1 (about 2 MB for 300 000). */
const numbers = (n: number): string => Array.from({ length: n }, (_, i) => `${i}\n`).join('');
const tmpFiles = (dir: string): string[] => readdirSync(dir).filter((name) => name.endsWith('.tmp'));
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/**
 * The built command where user nobody can run it: the checkout may sit in a folder only root can read
 * (a 0700 home, a mktemp dir), so dist/ and package.json (its "type") are copied to one anyone can read.
 */
function binForNobody(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-nobody-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  spawnSync('chmod', ['-R', 'a+rX', dir]);
  return join(dir, 'dist', 'cli', 'main.js');
}

function mkfifo(path: string): void {
  const result = spawnSync('mkfifo', [path], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`mkfifo ${path}: ${result.stderr}`);
}

/** Makes a device node like /dev/`name` at `path`; false where that is not allowed (not root). */
function mknod(path: string, name: 'null' | 'full'): boolean {
  return isRoot && spawnSync('mknod', [path, 'c', '1', name === 'null' ? '3' : '7']).status === 0;
}

/** Runs `sluice ...args` with `input` while `reader` (a child that opens the FIFO) reads it. */
async function throughFifo(t: Test, fifo: string, reader: ChildProcessWithoutNullStreams, args: string[], input: string) {
  t.teardown(() => reader.kill()); // should the FIFO be replaced, it would wait for a writer for ever
  const got = text(reader.stdout);
  const child = start([...args, '-o', fifo]);
  child.stdin.on('error', () => {}); // EPIPE, if the command stops reading
  child.stdin.end(input);
  const stderr = text(child.stderr);
  const { code } = await exited(child);
  const stillFifo = lstatSync(fifo).isFIFO();
  if (!stillFifo) reader.kill();
  return { code, stderr: await stderr, stillFifo, got: await got };
}

t.test('sluice -o writes into a FIFO directly: no temp file, no rename, the FIFO stays', async (t) => {
  const dir = t.testdir({});
  const fifo = join(dir, 'fifo');
  mkfifo(fifo);
  const r = await throughFifo(t, fifo, spawn('cat', [fifo]), ['--map', 'line.toUpperCase()'], lines('a', 'b'));
  t.equal(r.code, 0, r.stderr);
  t.ok(r.stillFifo, 'still a FIFO');
  t.same(readdirSync(dir), ['fifo'], 'no temp file');
  t.equal(r.got, lines('A', 'B'));
});

t.test('sluice -o into a FIFO whose reader leaves ends quietly with 0, as on stdout', async (t) => {
  const dir = t.testdir({});
  const fifo = join(dir, 'fifo');
  mkfifo(fifo);
  // Far more than a pipe holds, so that writes go on after the reader has left.
  const r = await throughFifo(t, fifo, spawn('head', ['-n', '1', fifo]), ['--map', 'line'], numbers(300_000));
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  t.ok(r.stillFifo, 'still a FIFO');
  t.equal(r.got, lines('0'));
});

t.test('sluice -o writes into a device or a symlink to one directly, leaving them in place', async (t) => {
  const dir = t.testdir({});
  symlinkSync('/dev/null', join(dir, 'null'));
  symlinkSync('/proc/self/fd/1', join(dir, 'stdout')); // what /dev/stdout leads to
  const toNull = sluice(['-o', join(dir, 'null')], { input: lines('x') });
  t.equal(toNull.status, 0, toNull.stderr);
  t.equal(readlinkSync(join(dir, 'null')), '/dev/null', 'the link stays');
  // Through a pipe of the shell's: the pipes Node gives a child are sockets, which cannot be opened by name.
  const toStdout = spawnSync('sh', ['-c', '"$0" "$@" | cat', process.execPath, bin, '--map', 'line + "!"', '-o', join(dir, 'stdout')], {
    input: lines('x', 'y'),
    encoding: 'utf8',
    timeout: 20_000,
  });
  t.equal(toStdout.status, 0, toStdout.stderr);
  t.equal(toStdout.stdout, lines('x!', 'y!'));
  t.equal(readlinkSync(join(dir, 'stdout')), '/proc/self/fd/1', 'the link stays');
  if (mknod(join(dir, 'dev-null'), 'null')) {
    const toDevice = sluice(['-o', join(dir, 'dev-null')], { input: lines('x') });
    t.equal(toDevice.status, 0, toDevice.stderr);
    t.ok(lstatSync(join(dir, 'dev-null')).isCharacterDevice(), 'the device node stays');
  }
  t.same(tmpFiles(dir), []);
});

t.test('sluice -o on a folder fails with exit 1, naming it', async (t) => {
  const dir = t.testdir({ sub: {} });
  const r = sluice(['-o', 'sub'], { cwd: dir, input: lines('x') });
  t.equal(r.status, 1);
  t.equal(r.stderr, 'sluice: cannot write sub: EISDIR: illegal operation on a directory\n');
  t.same(readdirSync(dir), ['sub']);
});

t.test('sluice -i refuses what is not a regular file with exit 1, leaving it as it was', async (t) => {
  const dir = t.testdir({});
  symlinkSync('/dev/null', join(dir, 'null'));
  mkfifo(join(dir, 'fifo'));
  for (const name of ['null', 'fifo']) {
    // SIGKILL at the timeout: a command stuck reading the FIFO would outlive sluice()'s SIGTERM.
    const r = spawnSync(process.execPath, [bin, '-i', '--map', 'line', join(dir, name)], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    t.equal(r.status, 1, name);
    t.equal(r.stderr, `sluice: ${join(dir, name)}: not a regular file\n`);
  }
  t.equal(readlinkSync(join(dir, 'null')), '/dev/null');
  t.ok(lstatSync(join(dir, 'fifo')).isFIFO());
  t.same(readdirSync(dir).sort(), ['fifo', 'null'], 'no temp file');
});

t.test('sluice -o through a symlink replaces the file it leads to and keeps the link, as > does', async (t) => {
  const dir = t.testdir({ real: { 'target.txt': 'old\n' } });
  const target = join(dir, 'real', 'target.txt');
  symlinkSync('real/target.txt', join(dir, 'link'));
  symlinkSync('link', join(dir, 'link-to-link'));
  const before = statSync(target).ino;
  const r = sluice(['--map', 'line.toUpperCase()', '-o', join(dir, 'link-to-link')], { input: lines('new') });
  t.equal(r.status, 0, r.stderr);
  t.equal(readFileSync(target, 'utf8'), lines('NEW'));
  t.not(statSync(target).ino, before, 'replaced by a rename, not rewritten in place');
  t.equal(readlinkSync(join(dir, 'link')), 'real/target.txt');
  t.equal(readlinkSync(join(dir, 'link-to-link')), 'link');

  // A dangling link: the file it names is created.
  symlinkSync('real/created.txt', join(dir, 'dangling'));
  const created = sluice(['-o', join(dir, 'dangling')], { input: lines('made') });
  t.equal(created.status, 0, created.stderr);
  t.equal(readFileSync(join(dir, 'real', 'created.txt'), 'utf8'), lines('made'));
  t.equal(readlinkSync(join(dir, 'dangling')), 'real/created.txt');
  t.same([...tmpFiles(dir), ...tmpFiles(join(dir, 'real'))], []);
});

t.test('sluice -i through a symlink rewrites the file it leads to and keeps the link, as sed -i --follow-symlinks does', async (t) => {
  const dir = t.testdir({ real: { 'data.txt': lines('keep', 'drop') } });
  symlinkSync('real/data.txt', join(dir, 'link'));
  const r = sluice(['-i', '--filter', 'line !== "drop"', join(dir, 'link')]);
  t.equal(r.status, 0, r.stderr);
  t.equal(readFileSync(join(dir, 'real', 'data.txt'), 'utf8'), lines('keep'));
  t.ok(lstatSync(join(dir, 'link')).isSymbolicLink(), 'still a link');
  t.equal(readlinkSync(join(dir, 'link')), 'real/data.txt');
  t.same([...tmpFiles(dir), ...tmpFiles(join(dir, 'real'))], []);
});

t.test('sluice -o over an existing file keeps its mode; a new file gets the default mode', async (t) => {
  const dir = t.testdir({ 'secret.txt': 'old\n', 'default.txt': '' });
  chmodSync(join(dir, 'secret.txt'), 0o600);
  const over = sluice(['-o', join(dir, 'secret.txt')], { input: lines('new') });
  t.equal(over.status, 0, over.stderr);
  t.equal(readFileSync(join(dir, 'secret.txt'), 'utf8'), lines('new'));
  t.equal(statSync(join(dir, 'secret.txt')).mode & 0o7777, 0o600);
  const fresh = sluice(['-o', join(dir, 'new.txt')], { input: lines('new') });
  t.equal(fresh.status, 0, fresh.stderr);
  // default.txt was created by this process, whose umask the command inherits.
  t.equal(statSync(join(dir, 'new.txt')).mode & 0o7777, statSync(join(dir, 'default.txt')).mode & 0o7777);
});

t.test('sluice -i and -o keep the owner and group of the file they replace (as root)', { skip: !isRoot && 'needs root' }, async (t) => {
  const dir = t.testdir({ 'a.txt': lines('a'), 'b.txt': lines('old') });
  for (const name of ['a.txt', 'b.txt']) {
    chownSync(join(dir, name), NOBODY, NOBODY);
    chmodSync(join(dir, name), 0o640);
  }
  const inPlace = sluice(['-i', '--map', 'line + "!"', join(dir, 'a.txt')]);
  t.equal(inPlace.status, 0, inPlace.stderr);
  const output = sluice(['-o', join(dir, 'b.txt')], { input: lines('new') });
  t.equal(output.status, 0, output.stderr);
  t.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), lines('a!'));
  t.equal(readFileSync(join(dir, 'b.txt'), 'utf8'), lines('new'));
  for (const name of ['a.txt', 'b.txt']) {
    const { uid, gid, mode } = statSync(join(dir, name));
    t.same({ uid, gid, mode: mode & 0o7777 }, { uid: NOBODY, gid: NOBODY, mode: 0o640 }, name);
  }
});

t.test(
  'sluice -i by a user who cannot give the file back to its owner keeps its mode',
  { skip: !isRoot && 'needs root, to run the command as nobody' },
  async (t) => {
    const command = binForNobody(t);
    // A folder nobody can reach: t.testdir()'s may be inside a checkout only root can read.
    const dir = mkdtempSync(join(tmpdir(), 'sluice-nobody-data-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'data.txt'), lines('a'));
    chownSync(dir, NOBODY, NOBODY); // nobody may create the temp file and rename it
    chmodSync(join(dir, 'data.txt'), 0o604); // root's file, readable by nobody
    // Without the NODE_OPTIONS tap gives every child: its loaders are in the checkout, which nobody may not read.
    const r = spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, command, '-i', '--map', 'line + "!"', join(dir, 'data.txt')], {
      cwd: dir,
      uid: NOBODY,
      gid: NOBODY,
      encoding: 'utf8',
      timeout: 20_000,
    });
    t.equal(r.status, 0, r.stderr);
    t.equal(readFileSync(join(dir, 'data.txt'), 'utf8'), lines('a!'));
    const { uid, mode } = statSync(join(dir, 'data.txt'));
    t.same({ uid, mode: mode & 0o7777 }, { uid: NOBODY, mode: 0o604 }, "nobody's file now, with the mode kept");
  },
);

t.test('sluice -o names the file when a write fails: ENOSPC on a full device', async (t) => {
  const dir = t.testdir({});
  symlinkSync('/dev/full', join(dir, 'full'));
  const names = mknod(join(dir, 'dev-full'), 'full') ? ['full', 'dev-full'] : ['full'];
  for (const name of names) {
    // A few lines fail when the output is ended; 2 MiB fail while it is being written.
    for (const input of [lines('x'), numbers(300_000)]) {
      const r = sluice(['-o', name], { cwd: dir, input });
      t.equal(r.status, 1, `${name}, ${input.length} B`);
      t.equal(r.stderr, `sluice: ${name}: ENOSPC: no space left on device\n`);
    }
  }
  t.equal(readlinkSync(join(dir, 'full')), '/dev/full', 'the link stays');
  t.same(tmpFiles(dir), []);
});

t.test('sluice -o and -i on a full file system name the file, not the temp file, and remove the temp file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-full-'));
  t.teardown(() => {
    spawnSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    t.plan(0, `cannot mount a small tmpfs here: ${mounted.stderr.trim() || String(mounted.error)}`);
    return;
  }
  const original = lines(...Array.from({ length: 4_000 }, (_, i) => `line ${i}`)); // ~40 KiB of the 64
  writeFileSync(join(dir, 'in.txt'), original);

  const output = sluice(['-o', 'out.txt'], { cwd: dir, input: original + original });
  t.equal(output.status, 1);
  t.equal(output.stderr, 'sluice: out.txt: ENOSPC: no space left on device\n');
  t.same(readdirSync(dir), ['in.txt'], 'no out.txt, no temp file');

  const inPlace = sluice(['-i', '--map', 'line + line', 'in.txt'], { cwd: dir });
  t.equal(inPlace.status, 1);
  t.equal(inPlace.stderr, 'sluice: in.txt: ENOSPC: no space left on device\n');
  t.equal(readFileSync(join(dir, 'in.txt'), 'utf8'), original, 'untouched');
  t.same(readdirSync(dir), ['in.txt'], 'no temp file');
});

t.test('sluice -o on a second SIGINT right after the first leaves no temp file', async (t) => {
  // The second signal kills the command at once; that it still removes its temp file is what this
  // checks. Not always the race it is after, so three tries.
  const root = t.testdir({});
  for (let run = 0; run < 3; run++) {
    const dir = join(root, String(run));
    mkdirSync(dir);
    const child = start(['--map', 'line', '-o', join(dir, 'out.txt')]);
    t.teardown(() => child.kill('SIGKILL')); // should the signals not end it
    void feedNumbers(child.stdin);
    const deadline = Date.now() + 10_000;
    while (tmpFiles(dir).length === 0 || statSync(join(dir, tmpFiles(dir)[0]!)).size === 0) {
      if (Date.now() > deadline) throw new Error('no temp file appeared');
      await sleep(20);
    }
    child.kill('SIGINT');
    await sleep(2);
    child.kill('SIGINT');
    const { code, signal } = await exited(child);
    t.ok(signal === 'SIGINT' || code === 130, `killed by SIGINT or exited 130: ${String(signal ?? code)}`);
    t.same(readdirSync(dir), [], 'no FILE, no temp file');
  }
});

t.test('sluice -o with an endless --flat-map generator stops on SIGINT (exit 130) and leaves no file', async (t) => {
  // The generator never ends by itself; the file's backpressure pauses it, so the signal is handled.
  const dir = t.testdir({});
  const child = start(['--flat-map', 'function* (l) { for (;;) yield l }', '-o', join(dir, 'out.txt')]);
  t.teardown(() => child.kill('SIGKILL'));
  child.stdin.end('a\n');
  const deadline = Date.now() + 20_000;
  while (tmpFiles(dir).length === 0 || statSync(join(dir, tmpFiles(dir)[0]!)).size === 0) {
    if (Date.now() > deadline) throw new Error('no temp file appeared');
    await sleep(20);
  }
  child.kill('SIGINT');
  const { code, signal } = await exited(child);
  t.equal(code, 130, `exited 130: ${String(signal ?? code)}`);
  t.same(readdirSync(dir), [], 'no FILE, no temp file');
});
