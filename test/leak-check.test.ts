import t from 'tap';
import { createServer } from 'node:net';
import { PassThrough, Readable, Transform } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { SluiceError } from '../lib/errors.js';
import { shutdownSignal } from '../lib/shutdown-signal.js';
import { leakCheck, LeakError } from '../lib/testing/leak-check.js';

async function leaksOf(promise: Promise<void>): Promise<readonly string[]> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof LeakError) return err.leaks;
    throw err;
  }
  return [];
}

t.test('leakCheck() resolves when the code cleaned up after itself', async () => {
  const controller = new AbortController();
  const stream = new PassThrough();
  const check = leakCheck({ signals: [controller.signal], streams: [stream] });
  const timer = setInterval(() => {}, 1000);
  const onAbort = (): void => {};
  controller.signal.addEventListener('abort', onAbort);
  clearInterval(timer);
  controller.signal.removeEventListener('abort', onAbort);
  stream.destroy();
  await check.verify();
});

t.test('leakCheck() reports a timer left active', async (t) => {
  const check = leakCheck({ timeout: 0 });
  const timer = setInterval(() => {}, 1000);
  try {
    const err = await check.verify().then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof LeakError);
    t.ok(err instanceof SluiceError);
    t.equal((err as LeakError).code, 'ERR_SLUICE_LEAK');
    t.same((err as LeakError).leaks, ['1 Timeout left active']);
    t.match((err as LeakError).message, /^leakCheck\(\): 1 leak since the snapshot:\n {2}1 Timeout left active$/);
  } finally {
    clearInterval(timer);
  }
});

t.test('leakCheck() ignores timers that existed before the snapshot', async () => {
  const timer = setInterval(() => {}, 1000);
  try {
    await leakCheck().verify();
  } finally {
    clearInterval(timer);
  }
});

t.test('leakCheck() reports a new timer even when an older one was cleared after the snapshot', async (t) => {
  const old = setInterval(() => {}, 1000);
  const check = leakCheck({ timeout: 0 });
  clearInterval(old);
  const fresh = setInterval(() => {}, 1000);
  try {
    t.same(await leaksOf(check.verify()), ['1 Timeout left active']);
  } finally {
    clearInterval(fresh);
  }
});

t.test('leakCheck() reports a timer created before the snapshot and ref()ed after it', async (t) => {
  const timer = setInterval(() => {}, 1000).unref();
  const check = leakCheck({ timeout: 0 });
  timer.ref();
  try {
    t.same(await leaksOf(check.verify()), ['1 Timeout left active']);
  } finally {
    clearInterval(timer);
  }
});

t.test('leakCheck() reports the one timer left among thousands created and cleared', async (t) => {
  const check = leakCheck({ timeout: 0 });
  const left = setInterval(() => {}, 1000);
  for (let i = 0; i < 5000; i++) clearTimeout(setTimeout(() => {}, 1000));
  try {
    t.same(await leaksOf(check.verify()), ['1 Timeout left active']);
  } finally {
    clearInterval(left);
  }
});

t.test('leakCheck() ignores unref()ed timers', async () => {
  const check = leakCheck();
  const timer = setInterval(() => {}, 1000).unref();
  try {
    await check.verify();
  } finally {
    clearInterval(timer);
  }
});

t.test('leakCheck() reports a server handle left open', async (t) => {
  const check = leakCheck({ timeout: 0 });
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    t.same(await leaksOf(check.verify()), ['1 TCPServerWrap left active']);
  } finally {
    server.close();
  }
});

t.test('leakCheck() waits for handles that are still closing', async () => {
  const check = leakCheck();
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  server.close();
  await check.verify();
});

t.test('leakCheck() waits up to options.timeout for a timer about to fire', async () => {
  const check = leakCheck({ timeout: 1000 });
  setTimeout(() => {}, 20);
  await check.verify();
});

t.test('leakCheck() does not report resource types in options.ignore', async () => {
  const check = leakCheck({ ignore: ['Timeout'], timeout: 0 });
  const timer = setInterval(() => {}, 1000);
  try {
    await check.verify();
  } finally {
    clearInterval(timer);
  }
});

t.test('leakCheck() reports a worker thread left running', async (t) => {
  const check = leakCheck({ timeout: 0 });
  // execArgv: [] keeps tap's loaders out of a thread that runs no TypeScript.
  const worker = new Worker('setInterval(() => {}, 1000);', { eval: true, execArgv: [] });
  try {
    t.same(await leaksOf(check.verify()), ['1 Worker left active']);
  } finally {
    await worker.terminate();
  }
  await check.verify();
});

t.test('leakCheck() reports signal listeners an undisposed shutdownSignal() left on process', async (t) => {
  const check = leakCheck({ timeout: 0 });
  const shutdown = shutdownSignal();
  try {
    t.same(await leaksOf(check.verify()), ["1 'SIGINT' listener left on process", "1 'SIGTERM' listener left on process"]);
  } finally {
    shutdown.dispose();
  }
  await check.verify();
});

t.test('leakCheck() reports a new signal listener even when an older one was removed', async (t) => {
  const old = (): void => {};
  process.on('SIGUSR2', old);
  const check = leakCheck({ timeout: 0 });
  process.off('SIGUSR2', old);
  const fresh = (): void => {};
  process.on('SIGUSR2', fresh);
  try {
    t.same(await leaksOf(check.verify()), ["1 'SIGUSR2' listener left on process"]);
  } finally {
    process.off('SIGUSR2', fresh);
  }
});

t.test("leakCheck() reports a new 'abort' listener even when an older one was removed", async (t) => {
  const controller = new AbortController();
  const old = (): void => {};
  controller.signal.addEventListener('abort', old);
  const check = leakCheck({ signals: [controller.signal], timeout: 0 });
  controller.signal.removeEventListener('abort', old);
  controller.signal.addEventListener('abort', () => {});
  t.same(await leaksOf(check.verify()), ["1 'abort' listener left on signals[0]"]);
});

t.test("leakCheck() reports 'abort' listeners left on a watched signal", async (t) => {
  const quiet = new AbortController();
  const busy = new AbortController();
  busy.signal.addEventListener('abort', () => {}); // before the snapshot: not a leak
  const check = leakCheck({ signals: [quiet.signal, busy.signal], timeout: 0 });
  busy.signal.addEventListener('abort', () => {});
  busy.signal.addEventListener('abort', () => {});
  t.same(await leaksOf(check.verify()), ["2 'abort' listeners left on signals[1]"]);
  quiet.signal.addEventListener('abort', () => {});
  t.same(await leaksOf(check.verify()), ["1 'abort' listener left on signals[0]", "2 'abort' listeners left on signals[1]"]);
});

t.test('leakCheck() reports a watched stream that was not destroyed', async (t) => {
  const stream = new PassThrough();
  const check = leakCheck({ streams: [stream], timeout: 0 });
  t.same(await leaksOf(check.verify()), ['stream #1 (PassThrough) not destroyed']);
  stream.destroy();
  await check.verify();
});

t.test('leakCheck() accepts a stream that ended and auto-destroyed', async () => {
  const check = leakCheck();
  const stream = check.track(Readable.from([1, 2, 3]));
  for await (const _ of stream);
  await check.verify();
});

t.test('leakCheck() track() watches streams and signals added after the snapshot', async (t) => {
  const check = leakCheck({ timeout: 0 });
  const first = check.track(new PassThrough());
  const second = check.track(new Transform({ transform: (c, _e, cb) => cb(null, c) }), 'upper');
  const controller = new AbortController();
  controller.signal.addEventListener('abort', () => {}); // before track(): not a leak
  check.track(controller.signal);
  check.track(AbortSignal.timeout(60_000), 'deadline').addEventListener('abort', () => {});
  controller.signal.addEventListener('abort', () => {});
  first.destroy();
  const leaks = await leaksOf(check.verify());
  t.same(
    leaks.filter((l) => !l.endsWith('Timeout left active')),
    ["1 'abort' listener left on signals[0]", `1 'abort' listener left on signal "deadline"`, 'stream #2 "upper" (Transform) not destroyed'],
  );
  second.destroy();
});

t.test('leakCheck() reports a stream whose destroy never completed', async (t) => {
  const stuck = new PassThrough({ destroy: () => {} }); // never calls back
  const check = leakCheck({ streams: [stuck], timeout: 0 });
  stuck.destroy();
  t.same(await leaksOf(check.verify()), ['stream #1 (PassThrough) destroyed but not closed']);
});

t.test('leakCheck() lists each leak on its own line', async (t) => {
  const stream = new PassThrough();
  const controller = new AbortController();
  const check = leakCheck({ streams: [stream], signals: [controller.signal], timeout: 0 });
  const timer = setInterval(() => {}, 1000);
  controller.signal.addEventListener('abort', () => {});
  try {
    await t.rejects(check.verify(), {
      code: 'ERR_SLUICE_LEAK',
      message: [
        'leakCheck(): 3 leaks since the snapshot:',
        '  1 Timeout left active',
        "  1 'abort' listener left on signals[0]",
        '  stream #1 (PassThrough) not destroyed',
      ].join('\n'),
    });
  } finally {
    clearInterval(timer);
    stream.destroy();
  }
});

t.test('leakCheck() validates its options', async (t) => {
  t.throws(() => leakCheck({ timeout: -1 }), new RangeError('leakCheck(): options.timeout must be a finite number >= 0, got -1 (number)'));
  t.throws(() => leakCheck({ signals: {} as never }), TypeError);
  t.throws(() => leakCheck({ signals: [1] as never }), TypeError);
  t.throws(() => leakCheck({ streams: [{}] as never }), TypeError);
  t.throws(() => leakCheck({ ignore: [1] as never }), TypeError);
  t.throws(() => leakCheck(null as never), TypeError);
  t.throws(() => leakCheck().track({} as never), TypeError);
});
