/**
 * parallel: items through an async task that awaits a 1 ms timer, at concurrency 16 and 64. A plain
 * promise pool with no stream at all is the ideal; stream peers read from `Readable.from` into a sink.
 *
 * @module
 */
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { range, sumSink, type Job, type Scenario } from './harness.js';
import { loadSluice } from './sluice.js';

interface Params {
  items: number;
  concurrency: number;
}

const task = (n: number): Promise<number> => new Promise((resolve) => setTimeout(resolve, 1, n + 1));

/** Streams the items through `stage` into the summing sink. */
function streamJob(items: number, stage: () => Duplex): Job {
  return async () => {
    const { sink, work } = sumSink();
    await pipeline(Readable.from(range(items)), stage(), sink);
    return work();
  };
}

export const scenario: Scenario<Params> = {
  description: 'an async task awaiting a 1 ms timer per item',
  unit: 'items',
  async prepare({ quick }) {
    const items = quick ? 2_000 : 20_000;
    // The sum of task(i) over the items: what every correct variant adds up.
    const expect = { items, check: (items * (items + 1)) / 2 };
    return [16, 64].map((concurrency) => ({
      name: `c${concurrency}`,
      title: `1 ms task per item, concurrency ${concurrency}`,
      params: { items, concurrency },
      items,
      expect,
    }));
  },
  variants: [
    {
      name: 'promise pool (ideal)',
      async setup({ items, concurrency }) {
        return async () => {
          let next = 0;
          let done = 0;
          let sum = 0;
          const worker = async (): Promise<void> => {
            while (next < items) {
              const value = await task(next++);
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
      name: 'Readable.map',
      async setup({ items, concurrency }) {
        return async () => {
          const { sink, work } = sumSink();
          await pipeline(Readable.from(range(items)).map(task, { concurrency }), sink);
          return work();
        };
      },
    },
    {
      name: 'parallel-transform',
      async setup({ items, concurrency }) {
        const { default: parallelTransform } = await import('parallel-transform');
        return streamJob(items, () =>
          parallelTransform(concurrency, (item, callback) => {
            task(item as number).then((value) => callback(null, value), callback);
          }),
        );
      },
    },
    {
      name: 'through2-concurrent',
      async setup({ items, concurrency }) {
        const { default: through2Concurrent } = await import('through2-concurrent');
        return streamJob(items, () =>
          through2Concurrent.obj({ maxConcurrency: concurrency }, (item, _encoding, callback) => {
            task(item as number).then((value) => callback(null, value), callback);
          }),
        );
      },
    },
    {
      name: 'sluice parallel()',
      sluice: true,
      async setup({ items, concurrency }) {
        const { parallel } = await loadSluice('parallel');
        return streamJob(items, () => parallel(task, { concurrency }));
      },
    },
    {
      name: 'sluice parallel(), unordered',
      sluice: true,
      async setup({ items, concurrency }) {
        const { parallel } = await loadSluice('parallel');
        return streamJob(items, () => parallel(task, { concurrency, ordered: false }));
      },
    },
  ],
  targets: [
    { variant: 'sluice parallel()', vs: 'promise pool (ideal)', atLeast: 0.9 },
    ...['Readable.map', 'parallel-transform', 'through2-concurrent'].map((vs) => ({ case: 'c64', variant: 'sluice parallel()', vs, atLeast: 1.15 })),
  ],
};
