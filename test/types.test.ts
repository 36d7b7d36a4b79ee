// A type-level test: `npx tsc -p tsconfig.json --noEmit` is what checks it (tap does not type-check).
// Every `expectType<Equal<…>>(true)` fails to compile unless the two types are identical, and every
// `@ts-expect-error` fails to compile unless the line below it is a type error. The runtime part at the
// end only makes tap count the file.
import t from 'tap';
import { Readable, Writable, type Duplex } from 'node:stream';
import { chain, many } from '../lib/chain.js';
import { filter } from '../lib/filter.js';
import { flatMap } from '../lib/flat-map.js';
import { fromIterable, type TypedReadable } from '../lib/from-iterable.js';
import { map } from '../lib/map.js';
import { parallel, type Parallel } from '../lib/parallel.js';
import { rateLimit, type RateLimit } from '../lib/rate-limit.js';
import { skip } from '../lib/skip.js';
import { split, type SplitChunk } from '../lib/split.js';
import { take } from '../lib/take.js';
import { through, type Through } from '../lib/through.js';
import { toArray } from '../lib/to-array.js';
import type { itemTypes, TypedDuplex } from '../lib/internal/types.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_: T): void {}
/** The item types a stage takes and gives, read back from its TypedDuplex. */
type Items<S> = S extends TypedDuplex<infer I, infer O> ? [I, O] : never;

// Never called: the streams these lines build exist for the type checker only.
function typeLevelOnly(): void {
  // chain() infers every item type from the first stage to the last.
  const inferred = chain([(s: string) => s.length, (n) => n > 2, async (b) => String(b)]);
  expectType<Equal<typeof inferred, TypedDuplex<string, string>>>(true);

  // …and types each function's parameter from the stage before it.
  chain([
    (s: string) => s.length,
    (n) => {
      expectType<Equal<typeof n, number>>(true);
      return n > 2;
    },
    async (b) => {
      expectType<Equal<typeof b, boolean>>(true);
      return String(b);
    },
  ]);

  // `undefined` drops an item, so it is not part of the next stage's type.
  const dropping = chain([
    (s: string) => (s === '' ? undefined : s),
    (s) => {
      expectType<Equal<typeof s, string>>(true);
      return s.length;
    },
  ]);
  expectType<Equal<typeof dropping, TypedDuplex<string, number>>>(true);

  // …and so is `null`, which drops an item too (a stream cannot carry it), sync or async.
  const nulls = chain([
    (s: string) => (s === '' ? null : s),
    async (s) => {
      expectType<Equal<typeof s, string>>(true);
      return s.length > 1 ? s.length : null;
    },
  ]);
  expectType<Equal<typeof nulls, TypedDuplex<string, number>>>(true);

  // split() opens a chain: the functions after it take its lines.
  const lengths = chain([split(), (line) => line.length]);
  expectType<Equal<typeof lengths, TypedDuplex<SplitChunk, number>>>(true);
  const records = chain([split({ map: (line) => ({ line }) }), (r) => r.line]);
  expectType<Equal<typeof records, TypedDuplex<SplitChunk, string>>>(true);
  // Iterating a split() gives its items, not Readable's `any`.
  async function lines(): Promise<void> {
    for await (const line of split()) expectType<Equal<typeof line, string>>(true);
    const first = await split()[Symbol.asyncIterator]().next();
    expectType<Equal<typeof first, IteratorResult<string, undefined>>>(true);
    const all = await split({ map: (line) => line.length }).toArray();
    expectType<Equal<typeof all, number[]>>(true);
  }
  void lines;

  // A Readable may open a chain and a Writable close it; the stage next to one is typed by its annotation.
  const opened = chain([Readable.from(['a']), (s: string) => s.length]);
  expectType<Equal<typeof opened, TypedDuplex<unknown, number>>>(true);
  const closed = chain([(s: string) => s.length, (n) => n + 1, new Writable({ objectMode: true })]);
  expectType<Equal<typeof closed, TypedDuplex<string, unknown>>>(true);

  // Longer than the typed overloads (8+ stages): it compiles and gives a plain Duplex; a function's
  // item type is not checked against its neighbours, and an unannotated one gets `unknown`.
  const long = chain([
    (s: string) => s.length,
    (n: number) => n + 1,
    map((n: number) => n * 2),
    (n: number) => `${n}`,
    new TransformStream<string, string>(),
    (s: string) => s.length,
    (n: number) => n - 1,
    (n) => {
      expectType<Equal<typeof n, unknown>>(true);
      return String(n);
    },
    split(),
  ]);
  expectType<Equal<typeof long, Duplex>>(true);

  // many(), generators and async generators give their element type.
  const unpacked = chain([
    (n: number) => many([n, n + 1]),
    function* (n) {
      expectType<Equal<typeof n, number>>(true);
      yield `${n}`;
    },
    async function* (s) {
      expectType<Equal<typeof s, string>>(true);
      yield s.length > 1;
    },
    async (b) => {
      expectType<Equal<typeof b, boolean>>(true);
      return many([b ? 1 : 0]);
    },
  ]);
  expectType<Equal<typeof unpacked, TypedDuplex<number, number>>>(true);

  // Sluice stages and Web TransformStreams carry their item types through a chain.
  const mixed = chain([
    (s: string) => s.split(','),
    flatMap((parts: string[]) => parts),
    map((s: string) => Number(s)),
    filter((n: number) => n > 0),
    new TransformStream<number, { n: number }>(),
    (o) => {
      expectType<Equal<typeof o, { n: number }>>(true);
      return o.n;
    },
    parallel(async (n: number) => `${n}`),
  ]);
  expectType<Equal<typeof mixed, TypedDuplex<string, string>>>(true);

  // A type guard given to filter() narrows the items after it.
  const narrowed = chain([
    (v: string | number) => v,
    filter((v: string | number): v is string => typeof v === 'string'),
    (s) => {
      expectType<Equal<typeof s, string>>(true);
      return s;
    },
  ]);
  expectType<Equal<typeof narrowed, TypedDuplex<string | number, string>>>(true);

  // chain([]) passes items through unchanged.
  expectType<Equal<ReturnType<typeof chain<Date>>, TypedDuplex<Date, Date>>>(true);

  // Each stage factory records what it takes and gives.
  expectType<Equal<Items<ReturnType<typeof map<string, number>>>, [string, number]>>(true);
  const asyncMap = map(async (s: string) => s.length);
  expectType<Equal<Items<typeof asyncMap>, [string, number]>>(true);
  const maybe = map((s: string) => (s ? s.length : undefined));
  expectType<Equal<Items<typeof maybe>, [string, number]>>(true);
  const nullable = map((s: string) => (s ? s.length : null));
  expectType<Equal<Items<typeof nullable>, [string, number]>>(true);
  const several = map((n: number) => many([`${n}`]));
  expectType<Equal<Items<typeof several>, [number, string]>>(true);
  const yielding = map(function* (n: number) {
    yield n > 0;
  });
  expectType<Equal<Items<typeof yielding>, [number, boolean]>>(true);
  const flat = flatMap(async (line: string) => line.split(' '));
  expectType<Equal<Items<typeof flat>, [string, string]>>(true);
  const guard = filter((v: unknown): v is string => typeof v === 'string');
  expectType<Equal<Items<typeof guard>, [unknown, string]>>(true);
  const pool = parallel(async (n: number) => (n > 0 ? `${n}` : undefined));
  expectType<Equal<Items<typeof pool>, [number, string]>>(true);
  expectType<Equal<typeof pool, Parallel<number, string>>>(true);
  const firstFive = take<bigint>(5);
  expectType<Equal<Items<typeof firstFive>, [bigint, bigint]>>(true);
  const rest = skip<Date>(1);
  expectType<Equal<Items<typeof rest>, [Date, Date]>>(true);
  const classic = through<number, string>(function (n, _encoding, callback) {
    expectType<Equal<typeof n, number>>(true);
    this.push(`${n}`);
    callback();
  });
  expectType<Equal<Items<typeof classic>, [number, string]>>(true);
  // through()'s async form gets its parameter and `this` typed too.
  through<number, string>(async function (n) {
    expectType<Equal<typeof n, number>>(true);
    this.push('');
    return `${n}`;
  });

  // rateLimit() and through() are one-line factories in front of their classes, which record the item types too.
  const limited = rateLimit<Date>({ rate: 1 });
  expectType<Equal<Items<typeof limited>, [Date, Date]>>(true);
  expectType<Equal<Items<RateLimit<Date>>, [Date, Date]>>(true);
  expectType<Equal<Items<Through<number, string>>, [number, string]>>(true);
  expectType<Equal<Items<Through<string>>, [string, string]>>(true);

  // fromIterable() gives a Readable that records its item type: `toArray()` gives them, and it still
  // fits wherever a Readable does.
  const numbers = fromIterable([1, 2]);
  expectType<Equal<typeof numbers, TypedReadable<number>>>(true);
  expectType<Equal<NonNullable<(typeof numbers)[typeof itemTypes]>['out'], number>>(true);
  const fromGenerator = fromIterable(
    (async function* () {
      yield 'a';
    })(),
  );
  expectType<Equal<NonNullable<(typeof fromGenerator)[typeof itemTypes]>['out'], string>>(true);
  async function readBack(): Promise<void> {
    const all = await fromIterable(new Set([1n])).toArray();
    expectType<Equal<typeof all, bigint[]>>(true);
  }
  void readBack;
  // A chain opened by fromIterable() types the function after it by its items.
  const fromNumbers = chain([fromIterable([1, 2]), (n) => `${n + 1}`]);
  expectType<Equal<typeof fromNumbers, TypedDuplex<unknown, string>>>(true);
  // @ts-expect-error the items are numbers, not strings
  chain([fromIterable([1]), (text: string) => text]);
  const asStream: NodeJS.ReadableStream = fromIterable(['a']);
  void asStream;

  // toArray() gives the item type of the last stage.
  async function collected(): Promise<void> {
    const out = await toArray(
      [1, 2],
      map((n: number) => `${n}`),
    );
    expectType<Equal<typeof out, string[]>>(true);
  }
  void collected;

  // Mismatches are type errors.
  // @ts-expect-error the second function takes a string, but the first gives a number
  chain([(s: string) => s.length, (s: string) => s.trim()]);
  // @ts-expect-error a function of strings cannot follow map() to numbers
  chain([map((s: string) => s.length), (s: string) => s.trim()]);
  // @ts-expect-error a TransformStream of strings cannot follow a function giving booleans
  chain([(n: number) => n > 0, new TransformStream<string, string>()]);
  // @ts-expect-error the chain gives strings, not numbers
  const wrongOut: TypedDuplex<string, number> = chain([(s: string) => s.trim()]);
  // @ts-expect-error the chain takes strings, not numbers
  const wrongIn: TypedDuplex<number, string> = chain([(s: string) => s.trim()]);
  // @ts-expect-error a Writable can only close a chain
  chain([(s: string) => s, new Writable({ objectMode: true }), (s: string) => s]);
  // @ts-expect-error a Duplex first is still checked against the function after it
  chain([map((s: string) => s.length), (s: string) => s.trim(), new Writable({ objectMode: true })]);
  // @ts-expect-error a chain stage must be a function or a stream
  chain([(n: number) => n, 42]);
  void wrongOut;
  void wrongIn;
}
void typeLevelOnly;

t.test('chain() infers item types end to end (checked by tsc; this runs the inferred chain)', async (t) => {
  const c: Duplex = chain([(s: string) => s.length, (n) => n > 2, async (b) => String(b)]);
  t.same(await toArray(['a', 'abc'], c), ['false', 'true']);
});

t.test('chain() of more stages than the typed overloads runs as one Duplex', async (t) => {
  const inc = (n: number): number => n + 1;
  const c = chain([inc, inc, inc, inc, inc, inc, inc, (n: number) => (n > 8 ? null : n)]);
  t.same(await toArray([0, 1, 2], c), [7, 8]);
});
