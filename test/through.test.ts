import t from 'tap';
import { Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { through } from '../lib/through.js';
import { toArray } from '../lib/to-array.js';
import { rejection, thrown, turns } from './fixtures/helpers.js';
import { within } from './fixtures/settle.js';
import { stageContract } from './fixtures/contract.js';

t.test('through() runs a classic transform that pushes with this.push', async (t) => {
  const twice = through<number, number>(function (n, _encoding, callback) {
    this.push(n);
    this.push(n);
    callback();
  });
  t.same(await toArray([1, 2], twice), [1, 1, 2, 2]);
});

t.test('through() pushes the item given to the classic callback', async (t) => {
  t.same(
    await toArray(
      [1, 2],
      through<number, number>((n, _encoding, callback) => callback(null, n * 3)),
    ),
    [3, 6],
  );
});

t.test('through() gives the classic transform the Transform as this', async (t) => {
  let self: unknown;
  const stage = through(function (n, _encoding, callback) {
    self = this;
    callback(null, n);
  });
  await toArray([1], stage);
  t.equal(self, stage);
  t.ok(stage instanceof Transform);
});

t.test('through() destroys the stream with the error given to the classic callback', async (t) => {
  const boom = new Error('boom');
  t.equal(
    await rejection(
      toArray(
        [1, 2],
        through((_n, _encoding, callback) => callback(boom)),
      ),
    ),
    boom,
  );
});

t.test('through() turns a synchronous throw in a classic transform into an error of the stream', async (t) => {
  const boom = new Error('boom');
  const stage = through(() => {
    throw boom;
  });
  const errors: unknown[] = [];
  stage.on('error', (err) => errors.push(err));
  t.doesNotThrow(() => stage.write(1), 'write() does not throw');
  await turns();
  t.same(errors, [boom]);
  t.equal(errors[0], boom);
  t.equal(stage.destroyed, true);
});

t.test('through() pushes the resolved value of an async transform', async (t) => {
  t.same(
    await toArray(
      [1, 2],
      through(async (n: number) => {
        await sleep(1);
        return n * 10;
      }),
    ),
    [10, 20],
  );
});

t.test('through() pushes nothing when an async transform resolves to undefined', async (t) => {
  t.same(
    await toArray(
      [1, 2, 3],
      through(async (n: number) => (n === 2 ? undefined : n)),
    ),
    [1, 3],
  );
});

t.test('through() gives an async transform the Transform as this', async (t) => {
  t.same(
    await toArray(
      [1],
      through(async function (n: number) {
        this.push(n - 1);
        return n;
      }),
    ),
    [0, 1],
  );
});

t.test('through() destroys the stream with the very error an async transform rejects with', async (t) => {
  const boom = new Error('boom');
  t.equal(
    await rejection(
      toArray(
        [1],
        through(async () => {
          throw boom;
        }),
      ),
    ),
    boom,
  );
});

t.test('through() passes items through unchanged without a transform', async (t) => {
  const a = { a: 1 };
  const out = await toArray([a, 'b'], through());
  t.same(out, [a, 'b']);
  t.equal(out[0], a);
});

t.test('through() runs a classic flush that pushes and calls back with an item', async (t) => {
  t.same(
    await toArray(
      [1],
      through<number, number>(undefined, function (callback) {
        this.push(8);
        callback(null, 9);
      }),
    ),
    [1, 8, 9],
  );
});

t.test('through() pushes the resolved value of an async flush', async (t) => {
  t.same(
    await toArray(
      [1, 2],
      through<number, number>(
        async (n) => n * 10,
        async () => -1,
      ),
    ),
    [10, 20, -1],
  );
});

t.test('through() pushes nothing when an async flush resolves to undefined', async (t) => {
  t.same(
    await toArray(
      [1],
      through<number, number>(undefined, async () => undefined),
    ),
    [1],
  );
});

t.test('through() destroys the stream with the error of a classic flush', async (t) => {
  const boom = new Error('boom');
  t.equal(
    await rejection(
      toArray(
        [1],
        through(undefined, (callback) => callback(boom)),
      ),
    ),
    boom,
  );
});

t.test('through() destroys the stream with the very error a flush throws', async (t) => {
  const boom = new Error('boom');
  t.equal(
    await rejection(
      toArray(
        [1],
        through(undefined, () => {
          throw boom;
        }),
      ),
    ),
    boom,
  );
});

t.test('through() destroys the stream with the very error an async flush rejects with', async (t) => {
  const boom = new Error('boom');
  t.equal(
    await rejection(
      toArray(
        [1],
        through(undefined, async () => {
          throw boom;
        }),
      ),
    ),
    boom,
  );
});

t.test('through() honours readableHighWaterMark and writableHighWaterMark', async (t) => {
  let calls = 0;
  const stage = through(
    (n, _encoding, callback) => {
      calls++;
      callback(null, n);
    },
    undefined,
    { readableHighWaterMark: 2, writableHighWaterMark: 3 },
  );
  t.equal(stage.readableHighWaterMark, 2);
  t.equal(stage.writableHighWaterMark, 3);
  t.equal(stage.readableObjectMode, true);
  for (let i = 0; i < 20; i++) stage.write(i);
  await turns();
  t.ok(calls <= 3, `transform called ${calls} times with nobody reading`);
  stage.destroy();
});

t.test('through() refuses a transform that is not a function', async (t) => {
  const err = thrown(() => through('upper' as never));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^through\(\): transform must be a function, got "upper" \(string\)$/);
});

t.test('through() refuses a flush that is not a function', async (t) => {
  const err = thrown(() => through(undefined, {} as never));
  t.ok(err instanceof TypeError);
  t.match((err as Error).message, /^through\(\): flush must be a function, got Object \(object\)$/);
});

t.test('through() treats a plain function returning a promise as an async transform', async (t) => {
  t.same(
    await toArray(
      [1, 2],
      through((n: number) => sleep(1).then(() => n * 2)),
    ),
    [2, 4],
  );
});

t.test('through() treats a plain flush returning a promise as an async flush', async (t) => {
  t.same(
    await toArray(
      [1],
      through<number, number>(undefined, () => sleep(1).then(() => 7)),
    ),
    [1, 7],
  );
});

t.test('through() rejects with the very falsy value its functions throw or reject with', async (t) => {
  const forms: [string, (value: unknown) => Transform][] = [
    [
      'a classic transform throwing',
      (value) =>
        through<number, number>((n, _encoding, callback) => {
          if (n === 2) throw value;
          callback(null, n);
        }),
    ],
    [
      'an async transform rejecting',
      (value) =>
        through<number, number>(async (n) => {
          if (n === 2) throw value;
          return n;
        }),
    ],
    ['a plain function whose promise rejects', (value) => through<number, number>((n) => (n === 2 ? Promise.reject(value) : Promise.resolve(n)))],
    [
      'a classic flush throwing',
      (value) =>
        through<number, number>(undefined, () => {
          throw value;
        }),
    ],
    [
      'an async flush rejecting',
      (value) =>
        through<number, number>(undefined, async () => {
          throw value;
        }),
    ],
    ['a plain flush whose promise rejects', (value) => through<number, number>(undefined, () => Promise.reject(value))],
  ];
  for (const [what, make] of forms) {
    for (const value of [undefined, null, 0, '', false]) {
      const err = await rejection(within(toArray([1, 2, 3], make(value)), 'toArray()'));
      t.ok(Object.is(err, value), `${what}: rejected with ${String(err)} for ${String(value)}`);
    }
  }
});

t.test('through() treats callback(null), callback() and callback(undefined) as success', async (t) => {
  const out = await toArray(
    [1, 2, 3],
    through<number, number>(function (n, _encoding, callback) {
      this.push(n);
      if (n === 1) callback(null);
      else if (n === 2) callback();
      else callback(undefined);
    }),
  );
  t.same(out, [1, 2, 3]);
});

stageContract(
  'through()',
  (options, hooks) =>
    through<number>(
      (n, _encoding, callback) => {
        hooks.visit(n);
        callback(null, n);
      },
      undefined,
      options,
    ),
  { expected: [0, 1, 2] },
);
