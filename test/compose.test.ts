// chain() around several streams (lib/internal/compose.ts): one Duplex whose inner run covers every
// inner stream until it has closed.
import t from 'tap';
import { Duplex, PassThrough, Writable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { chain } from '../lib/chain.js';
import { distribute } from '../lib/distribute.js';
import { map } from '../lib/map.js';
import { pipeline } from '../lib/pipeline.js';
import { take } from '../lib/take.js';
import { toArray } from '../lib/to-array.js';
import type { TypedDuplex } from '../lib/internal/types.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { rejection } from './fixtures/helpers.js';
import { within } from './fixtures/settle.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const passThrough = (): PassThrough => new PassThrough({ objectMode: true });
// chain() fuses a plain map() into its neighbours; one with options stays a stream of its own.
const shapes: [string, () => Duplex][] = [
  ['a plain map()', () => map((n: number) => n)],
  ['a map() with options', () => map((n: number) => n, { highWaterMark: 16 })],
  ['a PassThrough', passThrough],
];

for (const [first, make] of shapes) {
  t.test(`chain() fails with the error of a distribute() closing it after ${first}, raised once its writable side finished`, async (t) => {
    const boom = new Error('boom');
    const c = chain([
      make(),
      distribute(1, () =>
        map(async (n: number) => {
          if (n === 3) throw boom;
          return n;
        }),
      ),
    ]);
    t.equal(await rejection(within(toArray(range(10), c), 'toArray()')), boom);
    t.equal(c.destroyed, true);
  });

  t.test(`chain() fails with the error of a nested chain() closing it after ${first}`, async (t) => {
    const boom = new Error('boom');
    const c = chain([
      make(),
      chain([
        async (n: number) => {
          if (n === 2) throw boom;
          return n;
        },
        map((n: number) => n, { highWaterMark: 16 }),
      ]),
    ]);
    t.equal(await rejection(within(toArray([0, 1, 2], c), 'toArray()')), boom);
  });

  t.test(`chain() fails with the error its last stream raises after its final, after ${first}`, async (t) => {
    const boom = new Error('boom');
    const failsLate = new Duplex({
      objectMode: true,
      read() {},
      write(_n, _encoding, callback) {
        callback();
      },
      final(callback) {
        callback();
        setImmediate(() => this.destroy(boom));
      },
    });
    t.equal(await rejection(within(toArray([1, 2], chain([make(), failsLate])), 'toArray()')), boom);
  });
}

t.test('chain() rejects with the very falsy value an inner stream fails with', async (t) => {
  for (const value of [undefined, null, 0, '', false]) {
    const c = chain([
      (n: number) => n,
      passThrough(),
      async (n: number) => {
        if (n === 2) throw value;
        return n;
      },
    ]);
    const err = await rejection(within(toArray([1, 2, 3], c), 'toArray()'));
    t.ok(Object.is(err, value), `rejected with ${String(err)}, expected ${String(value)}`);
  }
});

t.test('chain() ending in take() ends as the last stage of a pipeline', async (_t) => {
  const check = leakCheck();
  const c = check.track(chain([map((n: number) => n * 2, { highWaterMark: 4 }), take(3)]));
  await within(
    pipeline(function* () {
      for (let i = 0; ; i++) yield i;
    }, c),
    'pipeline()',
  );
  await check.verify();
});

t.test('chain() of a take() and a Writable ends once the take() has its items', async (t) => {
  const got: number[] = [];
  const sink = new Writable({
    objectMode: true,
    write(n: number, _encoding, callback) {
      got.push(n);
      callback();
    },
  });
  // chain()'s typed overloads take sluice stages only: a plain Writable closing a chain needs a cast.
  const closing = sink as unknown as TypedDuplex<number, never>;
  await within(pipeline(range(100), chain([(n: number) => n * 2, take<number>(3), closing])), 'pipeline()');
  t.same(got, [0, 2, 4]);
});

t.test('chain() passes on what its last stream gives after its writable side finished', async (t) => {
  // The items come out of the last stream only once its input has ended.
  const late = new Duplex({
    objectMode: true,
    read() {},
    write(_n, _encoding, callback) {
      callback();
    },
    final(callback) {
      callback();
      void tick().then(() => {
        this.push('a');
        this.push('b');
        this.push(null);
      });
    },
  });
  t.same(await within(toArray([1, 2], chain([passThrough(), late])), 'toArray()'), ['a', 'b']);
});
