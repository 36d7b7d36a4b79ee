import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ShutdownError, SluiceError } from '../lib/errors.js';
import { shutdownSignal } from '../lib/shutdown-signal.js';

const child = fileURLToPath(new URL('./fixtures/shutdown-child.ts', import.meta.url));

function run(mode: string, signal: NodeJS.Signals): ReturnType<typeof spawnSync> {
  return spawnSync(process.execPath, ['--import', 'tsx', child, mode, signal], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    timeout: 20_000,
    // The child loads lib/ through tsx: its coverage would not merge with this file's (see coverage-map.mjs).
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
  });
}

/** Replaces process.kill while `fn` runs, recording the calls instead of sending anything. */
async function withoutKill(fn: (calls: unknown[][]) => Promise<void> | void): Promise<void> {
  const kill = process.kill;
  const calls: unknown[][] = [];
  process.kill = ((...args: unknown[]) => {
    calls.push(args);
    return true;
  }) as typeof process.kill;
  try {
    await fn(calls);
  } finally {
    process.kill = kill;
  }
}

t.test('shutdownSignal() aborts on the first signal with a ShutdownError naming it', async (t) => {
  const before = process.listenerCount('SIGINT');
  const shutdown = shutdownSignal();
  t.equal(process.listenerCount('SIGINT'), before + 1);
  try {
    t.equal(shutdown.signal.aborted, false);
    process.emit('SIGINT');
    t.equal(shutdown.signal.aborted, true);
    const reason: unknown = shutdown.signal.reason;
    t.ok(reason instanceof ShutdownError);
    t.ok(reason instanceof SluiceError);
    t.equal((reason as ShutdownError).code, 'ERR_SLUICE_SHUTDOWN');
    t.equal((reason as ShutdownError).signal, 'SIGINT');
    t.equal((reason as ShutdownError).message, 'received SIGINT, shutting down');
  } finally {
    shutdown.dispose();
  }
  t.equal(process.listenerCount('SIGINT'), before);
});

t.test('shutdownSignal() listens for SIGINT and SIGTERM by default', async (t) => {
  const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
  const shutdown = shutdownSignal();
  t.same([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], [before[0]! + 1, before[1]! + 1]);
  process.emit('SIGTERM');
  t.equal((shutdown.signal.reason as ShutdownError).signal, 'SIGTERM');
  shutdown.dispose();
});

t.test('shutdownSignal() removes every listener on dispose(), idempotently, and with Symbol.dispose', async (t) => {
  const counts = (): number[] => ['SIGINT', 'SIGTERM', 'SIGWINCH'].map((s) => process.listenerCount(s));
  const before = counts();
  const a = shutdownSignal();
  const b = shutdownSignal({ signals: ['SIGWINCH', 'SIGWINCH'] });
  t.same(counts(), [before[0]! + 1, before[1]! + 1, before[2]! + 1]);
  a.dispose();
  a.dispose();
  b[Symbol.dispose]();
  t.same(counts(), before);
  process.emit('SIGWINCH');
  t.equal(b.signal.aborted, false, 'a disposed signal never aborts');
});

t.test('shutdownSignal() removes its listeners and raises a second signal again', async (t) => {
  await withoutKill(async (calls) => {
    const shutdown = shutdownSignal({ signals: ['SIGWINCH', 'SIGCONT'] });
    process.emit('SIGWINCH');
    t.same(calls, []);
    t.equal(process.listenerCount('SIGCONT'), 1);
    process.emit('SIGCONT');
    t.same(calls, [[process.pid, 'SIGCONT']]);
    t.equal(process.listenerCount('SIGWINCH'), 0);
    t.equal(process.listenerCount('SIGCONT'), 0);
    t.equal((shutdown.signal.reason as ShutdownError).signal, 'SIGWINCH', 'the reason stays the first signal');
  });
});

t.test('shutdownSignal() lets a second SIGINT kill the process', async (t) => {
  const result = run('twice', 'SIGINT');
  t.equal(result.stderr, '');
  t.same(JSON.parse(String(result.stdout)), { code: 'ERR_SLUICE_SHUTDOWN', signal: 'SIGINT', message: 'received SIGINT, shutting down' });
  t.equal(result.signal, 'SIGINT');
  t.equal(result.status, null);
});

t.test('shutdownSignal() lets a second SIGTERM kill the process', async (t) => {
  const result = run('twice', 'SIGTERM');
  t.equal(JSON.parse(String(result.stdout)).signal, 'SIGTERM');
  t.equal(result.signal, 'SIGTERM');
});

t.test('shutdownSignal() lets the process end by itself after a graceful shutdown', async (t) => {
  const result = run('graceful', 'SIGINT');
  t.equal(result.stderr, '');
  t.equal(JSON.parse(String(result.stdout)).signal, 'SIGINT');
  t.equal(result.signal, null);
  t.equal(result.status, 0);
});

t.test('shutdownSignal() gives the signal its default action back once disposed', async (t) => {
  const result = run('disposed', 'SIGINT');
  t.equal(result.stdout, '');
  t.equal(result.signal, 'SIGINT');
});

t.test('shutdownSignal() validates its options', async (t) => {
  const before = process.listenerCount('SIGINT');
  t.throws(
    () => shutdownSignal({ signals: [] }),
    new TypeError('shutdownSignal(): options.signals must be a non-empty array of signal names, got an array of 0'),
  );
  t.throws(() => shutdownSignal({ signals: 'SIGINT' as never }), TypeError);
  t.throws(
    () => shutdownSignal({ signals: ['SIGFOO' as never] }),
    new TypeError('shutdownSignal(): options.signals[0] must be the name of a signal Node can listen for, such as "SIGINT", got "SIGFOO" (string)'),
  );
  t.throws(() => shutdownSignal({ signals: ['SIGINT', 'SIGKILL'] }), /options\.signals\[1\]/);
  t.throws(() => shutdownSignal({ signals: ['SIGSTOP'] }), TypeError);
  t.throws(() => shutdownSignal({ signals: [2 as never] }), TypeError);
  t.throws(() => shutdownSignal({ signals: ['constructor' as never] }), TypeError);
  t.throws(() => shutdownSignal(5 as never), TypeError);
  t.equal(process.listenerCount('SIGINT'), before, 'a refused call attaches nothing');
});

t.test('shutdownSignal() calls options.onForce with the second signal, just before raising it again', async (t) => {
  await withoutKill(async (calls) => {
    const forced: unknown[] = [];
    const shutdown = shutdownSignal({
      signals: ['SIGWINCH'],
      onForce: (name) => forced.push([name, process.listenerCount('SIGWINCH'), calls.length]),
    });
    process.emit('SIGWINCH');
    t.same(forced, [], 'not on the first signal');
    process.emit('SIGWINCH');
    t.same(forced, [['SIGWINCH', 0, 0]], 'once, after the listeners are removed and before the kill');
    t.same(calls, [[process.pid, 'SIGWINCH']]);
    shutdown.dispose();
  });
  await withoutKill(async (calls) => {
    const boom = new Error('boom');
    shutdownSignal({
      signals: ['SIGWINCH'],
      onForce: () => {
        throw boom;
      },
    });
    process.emit('SIGWINCH');
    t.throws(() => process.emit('SIGWINCH'), boom);
    t.same(calls, [[process.pid, 'SIGWINCH']], 'the signal is raised again even if onForce throws');
  });
  t.throws(() => shutdownSignal({ onForce: 1 as never }), new TypeError('shutdownSignal(): options.onForce must be a function, got 1 (number)'));
});
