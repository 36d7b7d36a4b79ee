import t from 'tap';
import { chain } from '../lib/chain.js';
import { pipeline } from '../lib/pipeline.js';
import { skip } from '../lib/skip.js';
import { take } from '../lib/take.js';
import { toArray } from '../lib/to-array.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { drain, endless, rejection, sourceState, thrown, turns } from './fixtures/helpers.js';

t.test('skip() drops the first n items and passes on the rest', async (t) => {
  t.same(await toArray([1, 2, 3, 4], skip(2)), [3, 4]);
});

t.test('skip(0) passes every item', async (t) => {
  t.same(await toArray([1, 2], skip(0)), [1, 2]);
});

t.test('skip() passes nothing when the input is shorter than n', async (t) => {
  t.same(await toArray([1, 2], skip(5)), []);
});

t.test('skip() passes items on unchanged', async (t) => {
  const a = { a: 1 };
  const [out] = await toArray([{ a: 0 }, a], skip(1));
  t.equal(out, a);
});

t.test('skip() then take() picks a window of an endless source', async (t) => {
  const state = sourceState();
  t.same(await toArray(endless(state), skip(5), take(3)), [5, 6, 7]);
  await turns();
  t.equal(state.finished, true);
});

t.test('skip() works inside a chain', async (t) => {
  t.same(await toArray(['h', 'a', 'b'], chain([skip<string>(1), (s: string) => s.toUpperCase()])), ['A', 'B']);
});

t.test('skip() counts separately in each stage', async (t) => {
  const stage = skip(1);
  t.same(await toArray([1, 2, 3], stage), [2, 3]);
  t.same(await toArray([1, 2, 3], skip(1), skip(1)), [3]);
});

t.test('skip() is destroyed with signal.reason when options.signal aborts', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const stage = check.track(skip(1, { signal: controller.signal }));
  const run = pipeline(endless(), stage, drain);
  setTimeout(() => controller.abort('stop'), 5);
  t.equal(await rejection(run), 'stop');
  await check.verify();
});

t.test('skip() honours highWaterMark on both sides', async (t) => {
  const stage = skip(1, { readableHighWaterMark: 2, writableHighWaterMark: 3 });
  t.equal(stage.readableHighWaterMark, 2);
  t.equal(stage.writableHighWaterMark, 3);
  stage.destroy();
});

t.test('skip() refuses an n that is not an integer >= 0', async (t) => {
  const negative = thrown(() => skip(-3));
  t.ok(negative instanceof RangeError);
  t.match((negative as Error).message, /^skip\(\): n must be an integer >= 0, got -3 \(number\)$/);
  const nan = thrown(() => skip(NaN));
  t.ok(nan instanceof RangeError);
  t.match((nan as Error).message, /got NaN \(number\)/);
  const nothing = thrown(() => skip(undefined as never));
  t.ok(nothing instanceof TypeError);
  t.match((nothing as Error).message, /^skip\(\): n must be an integer >= 0, got undefined \(undefined\)$/);
});
