import t from 'tap';
import { Readable } from 'node:stream';
import { fromIterable } from '../lib/from-iterable.js';
import { map } from '../lib/map.js';
import { pipeline } from '../lib/pipeline.js';
import { toArray } from '../lib/to-array.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { counted, drain, endless, rejection, sourceState, thrown, turns } from './fixtures/helpers.js';

t.test('fromIterable() reads an array', async (t) => {
  const stream = fromIterable([1, 2, 3]);
  t.ok(stream instanceof Readable);
  t.same(await stream.toArray(), [1, 2, 3]);
});

t.test('fromIterable() reads any iterable', async (t) => {
  t.same(await fromIterable(new Map([['a', 1]])).toArray(), [['a', 1]]);
  t.same(await fromIterable(counted(3)).toArray(), [0, 1, 2]);
});

t.test('fromIterable() reads an async iterable', async (t) => {
  async function* letters(): AsyncGenerator<string> {
    yield 'a';
    await turns(1);
    yield 'b';
  }
  t.same(await fromIterable(letters()).toArray(), ['a', 'b']);
});

t.test('fromIterable() is an object-mode Readable', async (t) => {
  const stream = fromIterable(['x']);
  t.equal(stream.readableObjectMode, true);
  t.equal(stream.readableHighWaterMark, 16);
  stream.destroy();
});

t.test('fromIterable() pulls only as fast as it is read', async (t) => {
  const state = sourceState();
  const stream = fromIterable(counted(1e6, state), { highWaterMark: 4 });
  stream.pause();
  stream.read(0);
  await turns(10);
  t.ok(state.produced <= 5, `pulled ${state.produced} items with nobody reading`);
  stream.destroy();
});

t.test("fromIterable() closes the iterator when destroyed, so a generator's finally runs", async (t) => {
  const state = sourceState();
  const stream = fromIterable(counted(1e6, state));
  stream.read(0);
  await turns();
  t.equal(state.finished, false);
  stream.destroy();
  await turns();
  t.equal(state.finished, true);
});

t.test('fromIterable() is destroyed with signal.reason when options.signal aborts, closing the iterator', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const state = sourceState();
  const stream = check.track(fromIterable(endless(state), { signal: controller.signal }));
  const reason = new Error('stop');
  const run = pipeline(
    stream,
    map((n: number) => n),
    drain,
  );
  setTimeout(() => controller.abort(reason), 5);
  t.equal(await rejection(run), reason);
  await turns();
  t.equal(state.finished, true);
  await check.verify();
});

t.test('fromIterable() is destroyed at once when options.signal is already aborted', async (t) => {
  const state = sourceState();
  const stream = fromIterable(counted(10, state), { signal: AbortSignal.abort('early') });
  t.equal(await rejection(toArray(stream)), 'early');
  t.equal(state.produced, 0);
});

t.test('fromIterable() passes the error of the iterator on unchanged', async (t) => {
  const boom = new Error('boom');
  function* failing(): Generator<number> {
    yield 1;
    throw boom;
  }
  t.equal(await rejection(toArray(fromIterable(failing()))), boom);
});

t.test('fromIterable() refuses a value that is not iterable', async (t) => {
  const number = thrown(() => fromIterable(5 as never));
  t.ok(number instanceof TypeError);
  t.match((number as Error).message, /^fromIterable\(\): iterable must be an iterable or async iterable, got \d+ \(number\)$/);
  const nothing = thrown(() => fromIterable(null as never));
  t.ok(nothing instanceof TypeError);
  const object = thrown(() => fromIterable({} as never));
  t.ok(object instanceof TypeError);
});

t.test('fromIterable() refuses an invalid highWaterMark', async (t) => {
  const err = thrown(() => fromIterable([1], { highWaterMark: -1 }));
  t.ok(err instanceof RangeError);
  t.match((err as Error).message, /^fromIterable\(\): options.highWaterMark must be an integer >= 0, got -1 \(number\)$/);
});
