/**
 * slow-consumer: a file read far faster than a consumer can take it. The consumer waits 1 ms every 64
 * lines (at most ~64,000 lines/s), so only backpressure keeps memory flat. The run is stopped after the
 * duration (or when the file ends); RSS is sampled every 250 ms and its slope after a warm-up of a fifth
 * of the duration is reported beside the peak.
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { slope, type Job, type Scenario } from './harness.js';
import { loadSluice } from './sluice.js';

interface Params {
  file: string;
  seconds: number;
}

function slowConsumer(): { sink: Writable; lines: () => number } {
  let lines = 0;
  const sink = new Writable({
    objectMode: true,
    write(_line: string, _encoding, callback) {
      if (++lines % 64 === 0) setTimeout(callback, 1);
      else callback();
    },
  });
  return { sink, lines: () => lines };
}

/** Runs `run` until it ends or `seconds` pass, sampling RSS; an abort at the deadline is the expected end. */
function timed({ seconds }: Params, run: (sink: Writable, signal: AbortSignal) => Promise<void>): Job {
  return async () => {
    const { sink, lines } = slowConsumer();
    const samples: Array<[number, number]> = [];
    const start = performance.now();
    const sampler = setInterval(() => samples.push([(performance.now() - start) / 1000, process.memoryUsage.rss() / 2 ** 20]), 250);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), seconds * 1000);
    try {
      await run(sink, deadline.signal);
    } catch (err) {
      if (!deadline.signal.aborted) throw err;
    } finally {
      clearInterval(sampler);
      clearTimeout(timer);
    }
    const warm = samples.filter(([t]) => t >= seconds / 5);
    return { items: lines(), extra: { slope: slope(warm) } };
  };
}

export const scenario: Scenario<Params> = {
  description: 'a slow consumer behind a fast file: memory must stay flat',
  unit: 'lines',
  ratios: false,
  async prepare({ duration, log }) {
    const file = await log(0.03);
    return [{ name: 'slow', title: `access log, consumer at most ~64,000 lines/s, ${duration} s`, params: { file: file.path, seconds: duration } }];
  },
  variants: [
    {
      name: 'split2',
      async setup(params) {
        const { default: split2 } = await import('split2');
        return timed(params, (sink, signal) => pipeline(createReadStream(params.file), split2(), sink, { signal }));
      },
    },
    {
      name: 'sluice split → parallel → tee',
      sluice: true,
      async setup(params) {
        const { split, parallel, tee, pipeline: sluicePipeline } = await loadSluice('split', 'parallel', 'tee', 'pipeline');
        return timed(params, (sink, signal) => {
          // A second, fast destination for the tee: the slow one must still set the pace.
          const archive = new Writable({ objectMode: true, write: (_line, _encoding, callback) => callback() });
          const work = parallel(async (line: string) => line, { concurrency: 8 });
          return sluicePipeline(createReadStream(params.file), split(), work, tee([archive], { passThrough: true }), sink, { signal });
        });
      },
    },
  ],
  columns: [{ key: 'slope', label: 'RSS slope after warm-up', format: (v) => `${v.toFixed(2)} MB/s` }],
  targets: [
    { variant: 'sluice split → parallel → tee', extraUnder: ['slope', 1] },
    { variant: 'sluice split → parallel → tee', rssUnderMB: 100 },
  ],
};
