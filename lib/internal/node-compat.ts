// Every place sluice leans on how Node behaves inside, rather than on what Node documents, is here:
// one function or note per reliance, saying which Node versions it was checked on and why it is
// needed. test/node-compat.test.ts pins each one and, when Node changes, fails naming the reliance,
// what changed and the sluice function that depends on it (from RELIANCES below).
import { Duplex, type Readable, type Writable } from 'node:stream';

/** One reliance on Node: what it is, the Node versions it holds on, and who depends on it. */
export interface Reliance {
  /** The behaviour relied on, as the test checks it. */
  readonly behaviour: string;
  /** Node versions it is written for (package.json's engines: >= 20.3). */
  readonly node: string;
  /** The sluice functions that depend on it. */
  readonly usedBy: string;
}

/** The reliances, by name: the test's failure messages come from here. */
export const RELIANCES = {
  closeState: {
    behaviour: "a stream's _readableState/_writableState has closeEmitted and emitClose",
    node: '20.x (checked on 20.20)',
    usedBy: 'hasClosed() and closed() in lib/internal/streams.ts (tee(), pipeline(), chain(), distribute(), partition())',
  },
  fromWebWritev: {
    behaviour: "Duplex.fromWeb()'s _writev crashes the process when a buffered write fails",
    node: '20.x (checked on 20.20: the bug is there)',
    usedBy: 'fromWebOneByOne(), which chain() uses for a TransformStream stage',
  },
  teardownCodes: {
    behaviour: 'Node fails streams it tears down with ERR_STREAM_PREMATURE_CLOSE, ERR_STREAM_DESTROYED or an AbortError',
    node: '20.x (checked on 20.20)',
    usedBy: 'isTeardownNoise() and isNodeAbort(), which pipeline() and chain() (lib/internal/compose.ts) use to find the real error',
  },
  transformStart: {
    behaviour: "a Transform's readable side starts out of sync mode: a push from _write reaches a flowing 'data' listener at once",
    node: '20.x (checked on 20.20)',
    usedBy: 'Engine (lib/internal/engine.ts), which extends Transform for it: map(), filter(), flatMap(), chain(), split(), parallel(), threads()',
  },
  transformPrefinish: {
    behaviour: "Transform's 'prefinish' push(null) after a subclass's own _final (no _flush) is a no-op",
    node: '20.x (checked on 20.20)',
    usedBy: 'Engine (lib/internal/engine.ts), which has its own _final that pushes the end',
  },
  workerExecArgv: {
    behaviour:
      'new Worker() with execArgv it refuses (V8 and process-wide options) throws ERR_WORKER_INVALID_EXEC_ARGV naming them after a colon, comma-separated',
    node: '20.x (checked on 20.20)',
    usedBy: 'ThreadPool (lib/thread-pool.ts), which leaves those options out of the execArgv it gives its workers',
  },
  timerDestroyed: {
    behaviour: 'a Timeout or Immediate has _destroyed === true once fired or cleared, and async_hooks types map to the names getActiveResourcesInfo() gives',
    node: '20.x (checked on 20.20)',
    usedBy: 'leakCheck() (lib/testing/leak-check.ts: watchCreated() and NAMES)',
  },
} as const satisfies Record<string, Reliance>;

interface StreamState {
  closeEmitted?: boolean;
  emitClose?: boolean;
}

/**
 * Whether `stream` has emitted 'close', or never will (`emitClose: false`, or a stream without Node's
 * state, such as an old-style one). Node has no public field for it: `stream.closed` turns true in
 * destroy(), a tick before 'close' is emitted. See RELIANCES.closeState.
 */
export function closeSettled(stream: Readable | Writable): boolean {
  const internal = stream as unknown as { _readableState?: StreamState; _writableState?: StreamState };
  const state = internal._readableState ?? internal._writableState;
  return state === undefined || state.closeEmitted === true || state.emitClose === false;
}

/**
 * `Duplex.fromWeb(stream, { objectMode: true })`, writing one item at a time. Node 20's `_writev` for
 * fromWeb crashes the process (`error.filter is not a function`, an unhandled rejection) when a
 * buffered write fails; without `_writev`, Writable calls `_write` per item and the failure destroys
 * the stream as it should. See RELIANCES.fromWebWritev.
 */
export function fromWebOneByOne(stream: TransformStream): Duplex {
  const web = Duplex.fromWeb(stream, { objectMode: true });
  (web as { _writev?: unknown })._writev = undefined;
  return web;
}

/**
 * Whether `err` is what Node fails the other streams of a pipeline with when it tears them down after
 * the real failure: a premature close, a write after destroy, or (once the run is aborted) an
 * AbortError. See RELIANCES.teardownCodes.
 */
export function isTeardownNoise(err: unknown, aborted: boolean): boolean {
  const e = err as { code?: unknown; name?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  return e.code === 'ERR_STREAM_PREMATURE_CLOSE' || e.code === 'ERR_STREAM_DESTROYED' || (aborted && e.name === 'AbortError');
}

/**
 * Whether `error` is an AbortError, as Node destroys a stream with when its reader stops (a sink
 * function that breaks out of its loop or throws). See RELIANCES.teardownCodes.
 */
export function isNodeAbort(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'AbortError';
}

/**
 * Whether a timer or immediate (as an async_hooks init hook gets it) is spent: fired or cleared. Node
 * marks it with the undocumented `_destroyed`. For leakCheck(); see RELIANCES.timerDestroyed.
 */
export function timerSpent(resource: object): boolean {
  return (resource as { _destroyed?: unknown })._destroyed === true;
}

/**
 * The options `new Worker()` refused, from its ERR_WORKER_INVALID_EXEC_ARGV error (which lists them
 * after a colon); `undefined` for any other error. See RELIANCES.workerExecArgv.
 */
export function refusedExecArgv(error: unknown): Set<string> | undefined {
  if ((error as { code?: unknown } | null)?.code !== 'ERR_WORKER_INVALID_EXEC_ARGV') return undefined;
  const message = (error as Error).message;
  return new Set(
    message
      .slice(message.indexOf(':') + 1)
      .split(',')
      .map((arg) => arg.trim()),
  );
}
