/**
 * split: a generated access log into lines, counted by a `'data'` listener (readline: a `'line'` listener),
 * and, as users write it, piped by `stream/promises` pipeline into a plain object-mode Writable.
 * Two logs of the same size: 3% of lines with non-ASCII UTF-8, and all ASCII. The raw reads are the limit.
 *
 * @module
 */
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Writable, type Duplex } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { Scenario } from './harness.js';
import { loadSluice } from './sluice.js';

interface Params {
  file: string;
}

const MiB = 1 << 20;

/** Lines that come out of `splitter` into a plain object-mode Writable (highWaterMark 16), as users write it. */
async function sinkLines(file: string, splitter: Duplex): Promise<number> {
  let lines = 0;
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 16,
    write(_line, _encoding, callback) {
      lines++;
      callback();
    },
  });
  await pipeline(createReadStream(file), splitter, sink);
  return lines;
}

/** Lines that come out of `splitter` when the file is piped through it. */
async function countLines(file: string, splitter: Duplex, highWaterMark?: number): Promise<number> {
  let lines = 0;
  splitter.on('data', () => {
    lines++;
  });
  const source = createReadStream(file, highWaterMark === undefined ? {} : { highWaterMark });
  await Promise.all([pipeline(source, splitter), finished(splitter)]);
  return lines;
}

export const scenario: Scenario<Params> = {
  description: 'split a generated access log into lines',
  unit: 'lines',
  async prepare(context) {
    const mixed = await context.log(0.03);
    const ascii = await context.log(0);
    return [
      { name: 'mixed', title: 'access log, 3% of lines with non-ASCII UTF-8', log: mixed },
      { name: 'ascii', title: 'access log, ASCII only', log: ascii },
    ].map(({ name, title, log }) => ({
      name,
      title,
      params: { file: log.path },
      items: log.lines,
      bytes: log.bytes,
      expect: { items: log.lines },
    }));
  },
  variants: [
    ...[64 * 1024, MiB].map((highWaterMark) => ({
      name: `raw read (${highWaterMark === MiB ? '1 MiB' : '64 KiB'} chunks)`,
      async setup({ file }: Params) {
        return async () => {
          const source = createReadStream(file, { highWaterMark });
          source.resume();
          await finished(source);
          return {};
        };
      },
    })),
    {
      name: 'split2',
      async setup({ file }) {
        const { default: split2 } = await import('split2');
        return async () => ({ items: await countLines(file, split2()) });
      },
    },
    {
      name: 'readline',
      async setup({ file }) {
        return async () => {
          let items = 0;
          const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
          lines.on('line', () => {
            items++;
          });
          await once(lines, 'close');
          return { items };
        };
      },
    },
    {
      name: 'sluice split()',
      sluice: true,
      async setup({ file }) {
        const { split } = await loadSluice('split');
        return async () => ({ items: await countLines(file, split()) });
      },
    },
    {
      name: 'sluice split(), 1 MiB reads',
      sluice: true,
      async setup({ file }) {
        const { split } = await loadSluice('split');
        return async () => ({ items: await countLines(file, split(), MiB) });
      },
    },
    {
      name: 'split2 → Writable sink',
      async setup({ file }) {
        const { default: split2 } = await import('split2');
        return async () => ({ items: await sinkLines(file, split2()) });
      },
    },
    {
      name: 'sluice split() → Writable sink',
      sluice: true,
      async setup({ file }) {
        const { split } = await loadSluice('split');
        return async () => ({ items: await sinkLines(file, split()) });
      },
    },
  ],
  targets: [
    { case: 'mixed', variant: 'sluice split()', vs: 'split2', atLeast: 5 },
    { case: 'mixed', variant: 'sluice split() → Writable sink', vs: 'split2 → Writable sink', atLeast: 3.5 },
    { case: 'ascii', variant: 'sluice split()', vs: 'split2', atLeast: 1.2 },
    { variant: 'sluice split()', vs: 'raw read (64 KiB chunks)', atLeast: 0.25 },
    { variant: 'sluice split()', rssUnderMB: 80 },
  ],
};
