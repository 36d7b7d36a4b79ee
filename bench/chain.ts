/**
 * chain: objects through five synchronous functions, into a sink that adds up the results.
 * Two sources: one that delivers bursts asynchronously, as a split file does (256 objects per
 * `setImmediate`, whatever the buffer holds), and `Readable.from` over a synchronous generator.
 * Each run checks that every object came out and that their sum is right.
 *
 * @module
 */
import { Readable, Transform, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sumSink, type Job, type Scenario } from './harness.js';
import { loadCodegen, loadSluice } from './sluice.js';

interface Params {
  items: number;
  source: 'burst' | 'from';
}

interface Item {
  id: number;
  v: number;
  odd: boolean;
}

// Two steps allocate, as parsing and reshaping do; two mutate; the last one reduces to a number.
const f1 = (o: Item): Item => ({ id: o.id, v: (o.id * 3) % 1000, odd: false });
const f2 = (o: Item): Item => {
  o.v += 7;
  return o;
};
const f3 = (o: Item): Item => ({ id: o.id, v: o.v, odd: (o.v & 1) === 1 });
const f4 = (o: Item): Item => {
  o.v = o.odd ? o.v * 2 : o.v + 1;
  return o;
};
const f5 = (o: Item): number => o.v + (o.id % 3);
const STEPS = [f1, f2, f3, f4, f5] as const;

const BURST = 256;

function source({ items, source }: Params): Readable {
  const item = (id: number): Item => ({ id, v: 0, odd: false });
  if (source === 'from') {
    return Readable.from(
      (function* () {
        for (let id = 0; id < items; id++) yield item(id);
      })(),
    );
  }
  let next = 0;
  let scheduled = false;
  return new Readable({
    objectMode: true,
    read() {
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        for (const end = Math.min(items, next + BURST); next < end; ) this.push(item(next++));
        if (next === items) this.push(null);
      });
    },
  });
}

/** What a correct run over `items` objects adds up to. */
function expectedSum(items: number): number {
  let sum = 0;
  for (let id = 0; id < items; id++) sum += f5(f4(f3(f2(f1({ id, v: 0, odd: false })))));
  return sum;
}

/**
 * The job: `items` objects from the source through `build`'s stages into the summing sink. Its check
 * is 'ok' when every object came out and the sum is right (worked out here, before the timing starts).
 */
function job(params: Params, build: (source: Readable) => Array<Readable | Duplex>, items = params.items): Job {
  const expected = expectedSum(items);
  return async () => {
    const { sink, work } = sumSink();
    const [first, ...rest] = build(source({ ...params, items }));
    await pipeline([first!, ...rest, sink]);
    const { items: got = 0, check: sum } = work();
    const check = got === items && sum === expected ? 'ok' : `${got} items adding up to ${sum}, not ${items} adding up to ${expected}`;
    return { items: got, check };
  };
}

const transform = (fn: (o: Item) => unknown): Transform =>
  new Transform({
    objectMode: true,
    transform(chunk: Item, _encoding, callback) {
      callback(null, fn(chunk));
    },
  });

export const scenario: Scenario<Params> = {
  description: 'objects through 5 synchronous functions',
  unit: 'items',
  async prepare({ items }) {
    const expect = { check: 'ok' };
    return [
      { name: 'burst', title: 'bursty async source (like split on a file)', params: { items, source: 'burst' as const }, items, expect },
      { name: 'from', title: 'Readable.from(sync generator)', params: { items, source: 'from' as const }, items, expect },
    ];
  },
  variants: [
    {
      name: 'hand-fused Transform',
      async setup(params) {
        return job(params, (src) => [src, transform((o) => f5(f4(f3(f2(f1(o))))))]);
      },
    },
    {
      name: '5 x Transform',
      async setup(params) {
        return job(params, (src) => [src, ...STEPS.map(transform)]);
      },
    },
    {
      name: '5 x through2.obj',
      async setup(params) {
        const { default: through2 } = await import('through2');
        const through = (fn: (o: Item) => unknown) =>
          through2.obj((chunk: Item, _encoding: BufferEncoding, callback: (err: null, data: unknown) => void) => {
            callback(null, fn(chunk));
          }) as Duplex;
        return job(params, (src) => [src, ...STEPS.map(through)]);
      },
    },
    {
      // About 20x slower than the others: on all 10M objects it alone would take most of an hour.
      name: '5 x Readable.map (on 1/10 of the items)',
      async setup(params) {
        const items = Math.ceil(params.items / 10);
        return job(params, (src) => [STEPS.reduce<Readable>((stream, fn) => stream.map(fn as (o: unknown) => unknown), src)], items);
      },
    },
    {
      name: 'stream-chain chain()',
      async setup(params) {
        const { default: chain } = await import('stream-chain');
        return job(params, (src) => [src, chain([...STEPS])]);
      },
    },
    {
      name: 'sluice chain()',
      sluice: true,
      async setup(params) {
        const { chain } = await loadSluice('chain');
        return job(params, (src) => [src, chain(STEPS)]);
      },
    },
    {
      // The engine's loop instead of its generated path: keeps the case for code generation checkable.
      name: 'sluice chain(), loop',
      sluice: true,
      async setup(params) {
        const { chain } = await loadSluice('chain');
        (await loadCodegen()).enabled = false;
        return job(params, (src) => [src, chain(STEPS)]);
      },
    },
  ],
  targets: [
    { variant: 'sluice chain()', vs: 'stream-chain chain()', atLeast: 4 },
    { variant: 'sluice chain()', vs: 'hand-fused Transform', atLeast: 0.85 },
    { variant: 'sluice chain()', rssUnderMB: 100 },
  ],
};
