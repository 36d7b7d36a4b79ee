/**
 * buffer: a producer ten times faster than its consumer. The consumer takes 64 items, then waits 1 ms
 * (at most ~64,000 items/s); every millisecond the producer writes a burst of 640, stopping a burst
 * where write() returns false and going on after 'drain'. With backpressure alone the producer is
 * slowed to the consumer's pace; `buffer(1024, { overflow: 'drop-oldest' })` never slows it and drops
 * the surplus. Memory must stay flat and the consumer must go as fast as with backpressure alone. A
 * producer that ignores write()'s return value shows what the buffer saves: Node keeps every item.
 * Each run lasts the duration; RSS is sampled every 250 ms and its slope after a fifth of it is shown.
 *
 * @module
 */
import { PassThrough, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { slope, type Job, type Scenario } from './harness.js';
import { loadSluice } from './sluice.js';

interface Params {
  seconds: number;
  size: number;
}

/** Items the consumer takes between two waits of 1 ms. */
const PER_MS = 64;
const OVERLOAD = 10;

/** What this scenario needs beyond `SluiceApi`; loadSluice checks at run time that dist/ exports it. */
interface BufferApi {
  buffer(size: number, options: { overflow: 'drop-oldest' }): PassThrough & { readonly dropped: number };
}

/** The slow consumer: it counts what it takes. */
function consumer(): { sink: Writable; consumed: () => number } {
  let consumed = 0;
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 1,
    write(_item, _encoding, callback) {
      if (++consumed % PER_MS === 0) setTimeout(callback, 1);
      else callback();
    },
  });
  return { sink, consumed: () => consumed };
}

/**
 * Runs the producer into `head` (whose output reaches `sink`) for `seconds`, sampling RSS. `obey`:
 * a burst stops where write() returns false, and the next waits for 'drain'.
 */
function timed({ seconds }: Params, obey: boolean, build: (sink: Writable) => { head: Writable; dropped?: () => number }): Job {
  return async () => {
    const { sink, consumed } = consumer();
    const { head, dropped } = build(sink);
    const samples: Array<[number, number]> = [];
    const start = performance.now();
    const sampler = setInterval(() => samples.push([(performance.now() - start) / 1000, process.memoryUsage.rss() / 2 ** 20]), 250);
    let produced = 0;
    try {
      while (performance.now() - start < seconds * 1000) {
        let room = true;
        for (let k = 0; k < OVERLOAD * PER_MS && (room || !obey); k++) room = head.write({ n: produced++ });
        if (room || !obey) await sleep(1);
        else await new Promise((resolve) => head.once('drain', resolve));
      }
    } finally {
      clearInterval(sampler);
    }
    const taken = consumed();
    const elapsed = (performance.now() - start) / 1000;
    head.destroy();
    sink.destroy();
    const warm = samples.filter(([t]) => t >= seconds / 5);
    return {
      items: taken,
      extra: { slope: slope(warm), produced: produced / elapsed, dropped: dropped === undefined ? 0 : dropped() / produced },
    };
  };
}

export const scenario: Scenario<Params> = {
  description: 'a producer 10x faster than its consumer: memory flat, consumer at full speed',
  unit: 'items',
  async prepare({ duration }) {
    return [{ name: 'x10', title: `producer at 10x the consumer (~64,000 items/s), ${duration} s`, params: { seconds: duration, size: 1024 } }];
  },
  variants: [
    {
      name: 'backpressure alone',
      async setup(params) {
        return timed(params, true, (sink) => ({ head: sink }));
      },
    },
    {
      name: 'write() return value ignored',
      async setup(params) {
        return timed(params, false, (sink) => {
          const head = new PassThrough({ objectMode: true });
          head.pipe(sink);
          return { head };
        });
      },
    },
    {
      name: 'sluice buffer(1024, drop-oldest)',
      sluice: true,
      async setup(params) {
        const { buffer } = (await loadSluice(...(['buffer'] as never[]))) as unknown as BufferApi;
        return timed(params, true, (sink) => {
          const head = buffer(params.size, { overflow: 'drop-oldest' });
          head.pipe(sink);
          return { head, dropped: () => head.dropped };
        });
      },
    },
  ],
  columns: [
    { key: 'produced', label: 'produced/s', format: (v) => `${(v / 1000).toFixed(0)} k` },
    { key: 'dropped', label: 'dropped', format: (v) => `${(v * 100).toFixed(0)}%` },
    { key: 'slope', label: 'RSS slope after warm-up', format: (v) => `${v.toFixed(2)} MB/s` },
  ],
  targets: [
    { variant: 'sluice buffer(1024, drop-oldest)', vs: 'backpressure alone', atLeast: 0.9 },
    { variant: 'sluice buffer(1024, drop-oldest)', extraUnder: ['slope', 1] },
  ],
};
