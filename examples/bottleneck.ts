/**
 * Finding the stage that holds a pipeline back, and fixing it: the loop `--stats` and
 * `pipeline({ onStats })` are for.
 *
 *     node --import tsx examples/bottleneck.ts [LINES]
 *
 * The pipeline reads access-log lines, looks up each client's country (an async call taking about
 * 2 ms, as a GeoIP service or a cache would) and formats a line. The first run does the lookup one
 * line at a time; its stats report names the lookup as the bottleneck (busy nearly all the time while
 * the stage after it starves). The second run gives that one stage `parallel()` and nothing else, and
 * prints how much sooner it finished. The examples import the library's source so that they run
 * without a build; in your project, import from 'sluice'.
 */
import { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { map, parallel, pipeline, split, type StatsReport } from '../lib/index.js';
import { accessLogLines } from './gen-access-log.js';

const LINES = Number(process.argv[2] ?? 2000);
if (!Number.isInteger(LINES) || LINES < 1) {
  console.error(`bottleneck: LINES must be an integer >= 1, got ${JSON.stringify(process.argv[2])}`);
  process.exit(2);
}

/** The slow stage: a lookup by client address, about 2 ms a call. */
async function lookupCountry(line: string, { signal }: { signal: AbortSignal }): Promise<{ line: string; country: string }> {
  await sleep(2, undefined, { signal });
  const ip = line.slice(0, line.indexOf(' '));
  return { line, country: ['FR', 'DE', 'JP', 'BR', 'US'][ip.length % 5]! };
}

const format = ({ line, country }: { line: string; country: string }): string => `${country} ${line}\n`;

/** Runs the pipeline with `lookup` as its lookup stage; returns its last stats report. */
async function run(lookup: () => NodeJS.ReadWriteStream): Promise<StatsReport> {
  const text = [...accessLogLines({ seed: 1, lines: LINES })].join('\n');
  let last: StatsReport | undefined;
  let written = 0;
  await pipeline(
    Readable.from([text]),
    split({ name: 'access.log' }),
    lookup(),
    map(format, { name: 'format' }),
    new Writable({
      write(_chunk, _encoding, callback) {
        written++;
        callback();
      },
    }),
    { onStats: (report: StatsReport) => (last = report), statsInterval: 100 },
  );
  if (written !== LINES) throw new Error(`expected ${LINES} lines out, got ${written}`);
  return last!;
}

function print(title: string, report: StatsReport): void {
  console.log(`${title}: ${LINES} lines in ${(report.elapsedMs / 1000).toFixed(2)} s`);
  const pct = (part: number, total: number): string => `${total === 0 ? 0 : Math.round((part / total) * 100)}%`.padStart(8);
  console.log(`  ${'stage'.padEnd(22)}${'in'.padStart(8)}${'out'.padStart(8)}${'busy'.padStart(8)}${'starved'.padStart(8)}${'blocked'.padStart(8)}`);
  for (const s of report.stages) {
    const total = s.busyMs + s.starvedMs + s.blockedMs;
    console.log(
      `  ${s.name.padEnd(22)}${String(s.itemsIn).padStart(8)}${String(s.itemsOut).padStart(8)}${pct(s.busyMs, total)}${pct(s.starvedMs, total)}${pct(s.blockedMs, total)}`,
    );
  }
  console.log(`  bottleneck: ${report.bottleneck?.reason ?? 'none (no stage ran long enough to tell)'}`);
}

const before = await run(() => map(lookupCountry, { name: 'lookupCountry' }));
print('one lookup at a time', before);
const after = await run(() => parallel(lookupCountry, { concurrency: 16, name: 'lookupCountry' }));
print('lookups with parallel(16)', after);
console.log(`parallel() on the bottleneck alone: ${(before.elapsedMs / after.elapsedMs).toFixed(1)}x sooner`);
