// Pins every Node internal that lib/internal/node-compat.ts gathers. A failure here means Node changed
// under sluice: its message says what changed and which sluice functions depend on it.
import t, { type Test } from 'tap';
import { createHook } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { finished, PassThrough, Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { closeSettled, isNodeAbort, isTeardownNoise, refusedExecArgv, RELIANCES, timerSpent, type Reliance } from '../lib/internal/node-compat.js';
import { rejection, turns } from './fixtures/helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const compat = new URL('../lib/internal/node-compat.ts', import.meta.url).href;

/** The message of a failure: what changed in this Node, what sluice relied on, and who depends on it. */
function changed(reliance: Reliance, what: string): string {
  return `Node ${process.version} changed: ${what}. sluice relies on this: ${reliance.behaviour} (written for Node ${reliance.node}). Depends on it: ${reliance.usedBy}.`;
}

/** Asserts `ok`, failing with the message of a change in Node. */
function pin(t: Test, ok: boolean, reliance: Reliance, what: string): void {
  t.ok(ok, ok ? reliance.behaviour : changed(reliance, what));
}

t.test('closeSettled() is false between destroy() and the close event, while stream.closed is already true', async (t) => {
  const stream = new PassThrough();
  const state = (stream as unknown as { _readableState?: { closeEmitted?: unknown; emitClose?: unknown } })._readableState;
  pin(
    t,
    typeof state?.closeEmitted === 'boolean' && typeof state.emitClose === 'boolean',
    RELIANCES.closeState,
    '_readableState.closeEmitted / .emitClose are gone or no longer booleans',
  );
  const closing = once(stream, 'close');
  stream.destroy();
  pin(t, stream.closed, RELIANCES.closeState, 'stream.closed is not set in destroy() any more (closeSettled() may be replaceable by it)');
  pin(t, !closeSettled(stream), RELIANCES.closeState, "closeEmitted is true before 'close' was emitted");
  await closing;
  pin(t, closeSettled(stream), RELIANCES.closeState, "closeEmitted stays false after 'close' was emitted");
});

t.test('closeSettled() is true for a Writable made with emitClose: false, which never emits close', async (t) => {
  const stream = new Writable({ emitClose: false, write: (_c, _e, cb) => cb() });
  stream.destroy();
  pin(t, closeSettled(stream), RELIANCES.closeState, '_writableState.emitClose does not read false for emitClose: false');
  await turns(2);
});

t.test('closeSettled() is true for a stream without Node state (an old-style stream)', async (t) => {
  t.equal(closeSettled(new (class extends Object {})() as unknown as Readable), true);
});

// The reproduction of the crash, run in a child process so that this one survives it.
const crashScript = (fix: boolean): string => `
${fix ? `import { fromWebOneByOne } from ${JSON.stringify(compat)};` : `import { Duplex } from 'node:stream';`}
const boom = new Error('boom');
const ts = new TransformStream({ transform(chunk, controller) { if (chunk === 2) throw boom; controller.enqueue(chunk); } });
const web = ${fix ? 'fromWebOneByOne(ts)' : 'Duplex.fromWeb(ts, { objectMode: true })'};
web.on('error', (error) => console.log(error === boom ? 'failed with the error' : 'failed with another error'));
web.resume();
// Written in one go: the writable side buffers them, so Node hands them to _writev together.
for (let i = 0; i < 5; i++) web.write(i);
web.end();
setTimeout(() => console.log('survived'), 50);
`;

function runChild(fix: boolean): { status: number | null; stdout: string; stderr: string } {
  const args = [...(fix ? ['--import', 'tsx'] : []), '--input-type=module', '-e', crashScript(fix)];
  const { status, stdout, stderr } = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 20_000 });
  return { status, stdout, stderr };
}

t.test("Duplex.fromWeb()'s _writev still crashes the process when a buffered write fails (why fromWebOneByOne() exists)", async (t) => {
  const { status, stdout, stderr } = runChild(false);
  const crashed = status !== 0 && stderr.includes('error.filter is not a function');
  pin(
    t,
    crashed,
    RELIANCES.fromWebWritev,
    `fromWeb's _writev no longer crashes on a failing buffered write (exit ${status}, output ${JSON.stringify(stdout + stderr).slice(0, 300)}): ` +
      'Node fixed it, so fromWebOneByOne() can go back to plain Duplex.fromWeb() for this Node version and later',
  );
});

t.test('fromWebOneByOne() fails the stream with the very error and the process survives', async (t) => {
  const { status, stdout, stderr } = runChild(true);
  t.equal(status, 0, `exit code (stderr: ${stderr.slice(0, 500)})`);
  pin(
    t,
    stdout.includes('failed with the error') && stdout.includes('survived'),
    RELIANCES.fromWebWritev,
    `without _writev, a failing write no longer destroys the fromWeb stream with the error (output ${JSON.stringify(stdout)})`,
  );
});

t.test('fromWebOneByOne() passes items through in order', async (t) => {
  const { fromWebOneByOne } = await import('../lib/internal/node-compat.js');
  const web = fromWebOneByOne(new TransformStream<number, number>({ transform: (n, c) => c.enqueue(n * 2) }));
  const out: number[] = [];
  await streamPipeline([1, 2, 3], web, async (source: AsyncIterable<number>) => {
    for await (const n of source) out.push(n);
  });
  t.same(out, [2, 4, 6]);
});

t.test('isTeardownNoise() knows finished() on a stream destroyed before its end: ERR_STREAM_PREMATURE_CLOSE', async (t) => {
  const stream = new PassThrough();
  stream.destroy();
  const got = await new Promise<unknown>((resolve) => finished(stream, resolve));
  pin(
    t,
    (got as { code?: unknown } | undefined)?.code === 'ERR_STREAM_PREMATURE_CLOSE',
    RELIANCES.teardownCodes,
    `finished() on a destroyed stream gives ${String((got as { code?: unknown } | undefined)?.code)}, not ERR_STREAM_PREMATURE_CLOSE`,
  );
  t.equal(isTeardownNoise(got, false), true);
});

t.test('isTeardownNoise() knows a write after destroy(): ERR_STREAM_DESTROYED', async (t) => {
  const stream = new Writable({ write: (_c, _e, cb) => cb() });
  stream.on('error', () => {});
  stream.destroy();
  const got = await new Promise<unknown>((resolve) => stream.write('x', resolve));
  pin(
    t,
    (got as { code?: unknown } | undefined)?.code === 'ERR_STREAM_DESTROYED',
    RELIANCES.teardownCodes,
    `a write after destroy() fails with ${String((got as { code?: unknown } | undefined)?.code)}, not ERR_STREAM_DESTROYED`,
  );
  t.equal(isTeardownNoise(got, false), true);
});

t.test("isTeardownNoise() knows the AbortError of Node's pipeline aborted by its signal, only once aborted", async (t) => {
  const controller = new AbortController();
  const reason = new Error('stop');
  const source = new Readable({ objectMode: true, read() {} });
  const run = streamPipeline(
    source,
    new PassThrough({ objectMode: true }),
    async (s: AsyncIterable<unknown>) => {
      for await (const _ of s);
    },
    { signal: controller.signal },
  );
  controller.abort(reason);
  const got = await rejection(run);
  pin(
    t,
    isNodeAbort(got) && (got as { cause?: unknown }).cause === reason,
    RELIANCES.teardownCodes,
    `an aborted pipeline rejects with ${String((got as { name?: unknown }).name)} (not an AbortError whose cause is the reason)`,
  );
  t.equal(isTeardownNoise(got, true), true);
  t.equal(isTeardownNoise(got, false), false, 'an AbortError before any abort is a real error');
});

for (const [how, sink] of [
  [
    'breaks out of its loop',
    async (source: AsyncIterable<unknown>) => {
      for await (const _ of source) break;
    },
  ],
  [
    'throws',
    async (source: AsyncIterable<unknown>) => {
      for await (const _ of source) throw new Error('sink failed');
    },
  ],
] as const) {
  t.test(`isNodeAbort() knows how Node destroys a source whose reader ${how}: an AbortError`, async (t) => {
    const source = new Readable({
      objectMode: true,
      read() {
        this.push(1);
      },
    });
    let error: unknown;
    source.on('error', (e) => (error = e));
    await streamPipeline(source, sink).catch(() => {});
    await turns(2);
    pin(
      t,
      source.destroyed && isNodeAbort(error),
      RELIANCES.teardownCodes,
      `the source is destroyed with ${error === undefined ? 'no error' : String((error as { name?: unknown }).name)}, not an AbortError`,
    );
  });
}

t.test('isTeardownNoise() and isNodeAbort() refuse other values', async (t) => {
  for (const value of [null, undefined, 0, 'ERR_STREAM_DESTROYED', new Error('x'), { code: 'ERR_OTHER' }]) {
    t.equal(isTeardownNoise(value, true), false, String(value));
  }
  t.equal(isNodeAbort(null), false);
  t.equal(isNodeAbort(new Error('x')), false);
  t.equal(isNodeAbort(new DOMException('gone', 'AbortError')), true);
});

/** What Engine is, reduced to the two details: its own _write, _final and _read, on Transform. */
class OwnSides extends Transform {
  override _write(chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.push(chunk);
    callback();
  }

  override _final(callback: TransformCallback): void {
    this.push(null);
    callback();
  }

  override _read(): void {}
}

t.test("Transform starts out of sync mode: a push from _write reaches a flowing 'data' listener at once (Engine's reason to extend it)", async (t) => {
  const stream = new OwnSides({ objectMode: true });
  const seen: unknown[] = [];
  stream.on('data', (item) => seen.push(item));
  stream.write(1);
  pin(
    t,
    seen.length === 1,
    RELIANCES.transformStart,
    'a push from _write waits for a later tick: Engine gains nothing from Transform any more (it could extend Duplex), or is slower',
  );
  stream.destroy();
});

t.test("Transform's 'prefinish' push(null) after a subclass's own _final is a no-op (Engine pushes the end itself)", async (t) => {
  const stream = new OwnSides({ objectMode: true });
  const errors: unknown[] = [];
  let ends = 0;
  stream.on('error', (error) => errors.push(error));
  stream.on('end', () => ends++);
  const out: unknown[] = [];
  stream.on('data', (item) => out.push(item));
  stream.end(1);
  await once(stream, 'close');
  pin(
    t,
    errors.length === 0 && ends === 1 && stream.writableFinished,
    RELIANCES.transformPrefinish,
    `ending a Transform with its own _final gave ${errors.length} error(s) (${errors.map(String).join('; ')}), ${ends} 'end' event(s)`,
  );
  t.same(out, [1]);
});

t.test('timerSpent() sees a Timeout or Immediate fired or cleared, and not one pending', async (t) => {
  const pending = setTimeout(() => {}, 60_000);
  const cleared = setTimeout(() => {}, 60_000);
  clearTimeout(cleared);
  const fired = setTimeout(() => {}, 1);
  const immediate = setImmediate(() => {});
  const clearedImmediate = setImmediate(() => {});
  clearImmediate(clearedImmediate);
  await new Promise((resolve) => setTimeout(resolve, 5));
  pin(t, !timerSpent(pending), RELIANCES.timerDestroyed, 'a pending Timeout reads as spent');
  pin(t, timerSpent(cleared) && timerSpent(fired), RELIANCES.timerDestroyed, 'a cleared or fired Timeout has no _destroyed === true');
  pin(t, timerSpent(immediate) && timerSpent(clearedImmediate), RELIANCES.timerDestroyed, 'a fired or cleared Immediate has no _destroyed === true');
  clearTimeout(pending);
});

t.test('async_hooks types map to the names process.getActiveResourcesInfo() gives (leakCheck reports by them)', async (t) => {
  const types: string[] = [];
  const hook = createHook({
    init(_id, type) {
      types.push(type);
    },
  }).enable();
  const before = process.getActiveResourcesInfo();
  const timer = setTimeout(() => {}, 60_000);
  const immediate = setImmediate(() => {});
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  hook.disable();
  const added = [...process.getActiveResourcesInfo()];
  for (const name of before) added.splice(added.indexOf(name), 1);
  clearTimeout(timer);
  clearImmediate(immediate);
  server.close();
  for (const [type, name] of [
    ['Timeout', 'Timeout'],
    ['Immediate', 'Immediate'],
    ['TCPSERVERWRAP', 'TCPServerWrap'],
  ] as const) {
    pin(
      t,
      types.includes(type) && added.includes(name),
      RELIANCES.timerDestroyed,
      `the hook saw ${JSON.stringify(types)} and getActiveResourcesInfo() added ${JSON.stringify(added)}: no ${type} as ${name}`,
    );
  }
  await once(server, 'close');
});

t.test('refusedExecArgv() reads the options new Worker() refuses from its ERR_WORKER_INVALID_EXEC_ARGV', async (t) => {
  let thrown: unknown;
  try {
    await new Worker('0', { eval: true, execArgv: ['--max-old-space-size=64', '--expose-gc'] }).terminate();
  } catch (error) {
    thrown = error;
  }
  const refused = refusedExecArgv(thrown);
  pin(
    t,
    refused !== undefined,
    RELIANCES.workerExecArgv,
    `new Worker() with V8 options in execArgv did not throw ERR_WORKER_INVALID_EXEC_ARGV (got ${String(thrown)})`,
  );
  pin(
    t,
    refused?.has('--max-old-space-size=64') === true && refused.has('--expose-gc'),
    RELIANCES.workerExecArgv,
    `the error no longer lists the refused options after a colon: ${(thrown as Error | undefined)?.message}`,
  );
  t.equal(refusedExecArgv(new Error('other')), undefined);
});
