import t from 'tap';
import { chain } from '../lib/chain.js';
import { skip } from '../lib/skip.js';
import { take } from '../lib/take.js';
import { toArray } from '../lib/to-array.js';
import { endless, sourceState, thrown, turns } from './fixtures/helpers.js';
import { stageContract } from './fixtures/contract.js';

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

stageContract('skip()', (options) => skip<number>(1, options), { userFunction: false, expected: [1, 2] });
