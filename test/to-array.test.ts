import t from 'tap';
import { PassThrough, Readable } from 'node:stream';
import { map } from '../lib/map.js';
import { collect, toArray } from '../lib/to-array.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { endless, rejection } from './fixtures/helpers.js';
import { within } from './fixtures/settle.js';

t.test('toArray() collects an iterable without stages', async (t) => {
  t.same(await toArray(new Set([1, 2, 3])), [1, 2, 3]);
});

t.test('toArray() collects an async iterable', async (t) => {
  async function* three(): AsyncGenerator<number> {
    for await (const n of endless()) {
      if (n === 3) return;
      yield n;
    }
  }
  t.same(await toArray(three()), [0, 1, 2]);
});

t.test('toArray() collects a Readable', async (t) => {
  t.same(await toArray(Readable.from(['a', 'b'])), ['a', 'b']);
});

t.test('toArray() runs the source through the stages in order', async (t) => {
  t.same(
    await toArray(
      [1, 2],
      map((n: number) => n + 1),
      new PassThrough({ objectMode: true }),
      map((n: number) => n * 10),
    ),
    [20, 30],
  );
});

t.test('toArray() gives an empty array for an empty source', async (t) => {
  t.same(
    await toArray(
      [],
      map((n: number) => n),
    ),
    [],
  );
});

t.test('toArray() rejects with the very error of a stage and destroys every stage', async (t) => {
  const check = leakCheck();
  const boom = new Error('boom');
  const stages = [
    check.track(
      map((n: number) => {
        if (n === 2) throw boom;
        return n;
      }),
    ),
    check.track(new PassThrough({ objectMode: true })),
  ] as const;
  t.equal(await rejection(toArray([1, 2, 3], ...stages)), boom);
  await check.verify();
});

t.test('toArray() rejects with the very error of its source', async (t) => {
  const boom = new Error('boom');
  async function* failing(): AsyncGenerator<number> {
    yield 1;
    throw boom;
  }
  t.equal(await rejection(toArray(failing())), boom);
});

t.test('toArray() rejects when a stage is reused after it finished, naming it', async (t) => {
  const m = map((n: number) => n);
  t.same(await toArray([1, 2], m), [1, 2]);
  const err = await rejection(within(toArray([3], m), 'toArray()'));
  t.ok(err instanceof TypeError);
  t.equal((err as Error).message, 'pipeline(): stages[1] (Engine) has already finished; a stage runs only once');
});

t.test('toArray() rejects with the very falsy value its sync generator source throws', async (t) => {
  for (const value of [undefined, null, 0, '', false]) {
    const source = (function* (): Generator<number> {
      yield 1;
      throw value;
    })();
    const err = await rejection(
      within(
        toArray(
          source,
          map((n: number) => n),
        ),
        'toArray()',
      ),
    );
    t.ok(Object.is(err, value), `rejected with ${String(err)} for a thrown ${String(value)}`);
  }
});

t.test('collect() is toArray()', async (t) => {
  t.equal(collect, toArray);
});
