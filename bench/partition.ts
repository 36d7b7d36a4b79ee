/**
 * partition: items of 100 keys through an async task that awaits a 1 ms timer, 16 keys at a time, each
 * key's sub-pipeline a one-at-a-time `map()` (so each key's items keep their order). The reference is
 * `parallel()` unordered at concurrency 16 over the same items, which keeps no order at all: the cost
 * of per-key order is what partition() loses against it. Keys come from a seeded generator, so a key
 * repeats at random and some items wait behind their key's earlier ones.
 *
 * @module
 */
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sumSink, type Job, type Scenario } from './harness.js';
import { loadSluice, type SluiceApi } from './sluice.js';

interface Params {
  items: number;
  keys: number;
  concurrency: number;
}

interface Item {
  key: number;
  n: number;
}

/** What this scenario needs beyond `SluiceApi`; loadSluice checks at run time that dist/ exports them. */
interface PartitionApi extends Pick<SluiceApi, 'parallel'> {
  map<T, R>(fn: (item: T) => Promise<R>): Duplex;
  partition<T, K>(key: (item: T) => K, factory: (key: K) => Duplex, options: { concurrency: number }): Duplex;
}

const load = (): Promise<PartitionApi> => loadSluice('parallel', ...(['map', 'partition'] as never[])) as Promise<unknown> as Promise<PartitionApi>;

const task = ({ n }: Item): Promise<number> => new Promise((resolve) => setTimeout(resolve, 1, n + 1));

/** `items` items with keys from a seeded xorshift generator: the same keys in every run. */
function* input(items: number, keys: number): Generator<Item> {
  let x = 2463534242;
  for (let n = 0; n < items; n++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    yield { key: (x >>> 0) % keys, n };
  }
}

function streamJob({ items, keys }: Params, stage: () => Duplex): Job {
  return async () => {
    const { sink, work } = sumSink();
    await pipeline(Readable.from(input(items, keys)), stage(), sink);
    return work();
  };
}

export const scenario: Scenario<Params> = {
  description: 'items of 100 keys, a 1 ms async task per item, 16 keys at a time, in order per key',
  unit: 'items',
  async prepare({ quick }) {
    const items = quick ? 2_000 : 20_000;
    return [
      {
        name: 'k100',
        title: '100 keys, 1 ms task per item, concurrency 16',
        params: { items, keys: 100, concurrency: 16 },
        items,
        expect: { items, check: (items * (items + 1)) / 2 },
      },
    ];
  },
  variants: [
    {
      name: 'promise pool (ideal, no order)',
      async setup({ items, keys, concurrency }) {
        return async () => {
          const source = input(items, keys);
          let done = 0;
          let sum = 0;
          const worker = async (): Promise<void> => {
            for (let next = source.next(); next.done !== true; next = source.next()) {
              const value = await task(next.value);
              sum += value;
              done++;
            }
          };
          await Promise.all(Array.from({ length: concurrency }, worker));
          return { items: done, check: sum };
        };
      },
    },
    {
      // A peer here (no `sluice` flag), so that partition() gets a ratio to it.
      name: 'parallel(), unordered',
      async setup(params) {
        const { parallel } = await load();
        return streamJob(params, () => parallel(task, { concurrency: params.concurrency, ordered: false }));
      },
    },
    {
      name: 'sluice partition() → map()',
      sluice: true,
      async setup(params) {
        const { partition, map } = await load();
        return streamJob(params, () =>
          partition(
            (item: Item) => item.key,
            () => map(task),
            { concurrency: params.concurrency },
          ),
        );
      },
    },
  ],
  targets: [{ variant: 'sluice partition() → map()', vs: 'parallel(), unordered', atLeast: 0.9 }],
};
