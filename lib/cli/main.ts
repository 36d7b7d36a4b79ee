#!/usr/bin/env node
// `sluice [options] [FILE...]`: argv → a pipeline of exported sluice stages → stdout or a file.
import { constants } from 'node:os';
import { realpathSync } from 'node:fs';
import type { Duplex, Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { map, pipeline, shutdownSignal, ShutdownError, skip, through, type StatsReport } from '../index.js';
import type { RedisEntry, RedisSink } from '../redis/index.js';
import { parseCli, version, type CliOptions } from './args.js';
import { HELP } from './help.js';
import { describeFailure, formatFailure, RunError, UsageError } from './errors.js';
import { checkInputs, Lines, type Input } from './inputs.js';
import { fileDestination, LineWriter, stdoutDestination, type Destination } from './output.js';
import { loadCsv } from './csv.js';
import { Chunks, numbered, threadedRecordStages, threadedStages } from './threaded.js';
import type { ThreadData } from './thread-worker.js';
import { Ranges, readableInRanges } from './ranges.js';
import { compileProgram, entryFailed, isRows, Skips, type Program, type Run } from './program.js';
import { formatter } from './count.js';
import type { Endings } from './decode.js';
import type { RedisInput } from './redis.js';
import { colorAllowed, startProgress, wantProgress } from './progress.js';
import { statsJson, statsLines, type Totals } from './report.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function note(text: string): void {
  process.stderr.write(`sluice: ${text}\n`);
}

/** Runs the command; resolves to the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  let options: CliOptions;
  let program: Program;
  try {
    options = parseCli(argv);
    if (options.help) {
      process.stdout.write(HELP);
      return EXIT_OK;
    }
    if (options.version) {
      process.stdout.write(`${version()}\n`);
      return EXIT_OK;
    }
    program = compileProgram(options);
    if (options.input === 'csv' || options.input === 'tsv') await loadCsv();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    note(`${err.message}\nTry 'sluice --help' for more information.`);
    return EXIT_USAGE;
  }

  let dest: Destination | undefined;
  abandon = () => dest?.discardNow();
  // A second Ctrl-C kills the process at once: only synchronous cleanup gets to run.
  const shutdown = shutdownSignal({ onForce: abandon });
  const skips = options.skipErrors ? new Skips() : undefined;
  const totals: Totals = { linesIn: 0, linesOut: 0, bytes: 0, dropped: 0 };
  const context: Context = { program, options, shutdown: shutdown.signal, skips, totals, report: undefined, redis: undefined, endless: false };
  const started = performance.now();
  let stdout: Destination | undefined;
  try {
    // The Redis client is loaded only when --from or --to names a Redis stream.
    if (options.from !== undefined || options.to !== undefined) context.redis = await import('./redis.js');
    const inputs = options.from === undefined ? await checkInputs(options.files) : [];
    // --in-place: one run per file, each into its own temp file.
    const jobs = options.inPlace ? inputs.map((input) => ({ inputs: [input], target: input.name })) : [{ inputs, target: options.outFile }];
    program.begin();
    for (const job of jobs) {
      dest =
        options.to !== undefined ? undefined : job.target === undefined ? (stdout ??= stdoutDestination()) : await fileDestination(job.target, options.inPlace);
      await runJob(job.inputs, dest, context);
    }
    // Every line failed: nothing of the input made it through, which is not success. (A worker of a
    // group, or --follow, drained by a signal did its part: its failures are dead letters, or pending.)
    if (skips !== undefined && skips.count > 0 && skips.count >= totals.linesIn && !context.endless) return EXIT_FAILURE;
    return EXIT_OK;
  } catch (err) {
    return failure(err);
  } finally {
    shutdown.dispose();
    if (skips !== undefined && skips.count > 0 && !options.quiet) {
      note(`skipped ${skips.count} line${skips.count === 1 ? '' : 's'} with errors; the first: ${formatFailure(skips.first!)}`);
    }
    // Never lost without a word: a full --buffer's drops are told even without --stats.
    if (totals.dropped > 0 && !options.quiet)
      note(`--buffer was full: dropped ${totals.dropped} item${totals.dropped === 1 ? '' : 's'} (--drop ${options.drop!})`);
    const seconds = (performance.now() - started) / 1000;
    if (options.stats) for (const line of statsLines(totals, seconds, context.report)) note(line);
    if (options.statsJson) process.stderr.write(`${statsJson(totals, seconds, context.report)}\n`);
  }
}

/** What every run of a command line shares. */
interface Context {
  program: Program;
  options: CliOptions;
  shutdown: AbortSignal;
  skips: Skips | undefined;
  totals: Totals;
  /** The last stats report of the run (the stages of its last job). */
  report: StatsReport | undefined;
  /** redis.ts, loaded with --from or --to. */
  redis: typeof import('./redis.js') | undefined;
  /** The input is a Redis stream read until a signal drains it (--group, --follow). */
  endless: boolean;
}

/** Where a run's lines come from: the first stage and the per-line stages, and what was read. */
interface Reading {
  source: Readable;
  stages: Duplex[];
  lines(): number;
  bytes(): number;
  endings(): Endings;
}

/**
 * Reads `inputs` (or the --from stream) through the program into `dest` (or the --to stream);
 * commits `dest` on success, discards it on failure.
 */
async function runJob(inputs: Input[], dest: Destination | undefined, context: Context): Promise<void> {
  const { program, options, shutdown, totals, redis } = context;
  const from = options.from === undefined ? undefined : redis!.redisInput(options.from, options.redis!);
  const run = program.build(context.skips, from === undefined ? undefined : () => from.stop());
  const reading = from === undefined ? readFiles(inputs, run, context) : readStream(from, options.from!.stream, run, context);
  // A group's worker (or --follow) runs until signalled: the first signal drains it, and the run ends
  // as done once the entries in flight are; only a second one kills it. Anything else is aborted.
  context.endless = from?.endless === true;
  const drain = (): void => {
    // Said on stderr: a drain can take as long as the slowest entry in flight.
    if (!options.quiet) note(`${(shutdown.reason as ShutdownError).signal}: finishing the entries in flight; send it again to stop at once`);
    from!.drain();
  };
  if (context.endless) {
    if (shutdown.aborted) drain();
    else shutdown.addEventListener('abort', drain, { once: true });
  }
  // EPIPE or a failed write stops the run as a shutdown does: every stage is destroyed.
  const signal = AbortSignal.any([...(context.endless ? [] : [shutdown]), ...(dest === undefined ? [] : [dest.failed])]);
  const linesToTerminal = dest?.stream === process.stdout && process.stdout.isTTY === true && options.countBy === undefined;
  const progress =
    from === undefined && wantProgress({ quiet: options.quiet, sizes: inputs.map((i) => i.size), linesToTerminal })
      ? startProgress({
          stream: process.stderr,
          total: inputs.reduce((sum, i) => sum + i.size!, 0),
          done: () => reading.bytes(),
          bottleneck: () => context.report?.bottleneck?.name,
          color: colorAllowed(),
        })
      : undefined;
  // Reports for the bar (live) and for --stats (the last one).
  const counting = progress !== undefined || options.stats || options.statsJson;
  const statsOptions = counting ? { onStats: (report: StatsReport) => (context.report = report), statsInterval: 250 } : {};
  // The bar goes before the results that come at the end (--count-by's) share its terminal.
  const atEnd = (): string[] => {
    progress?.stop();
    return run.atEnd();
  };
  const writer =
    dest === undefined
      ? toStream(redis!.redisOutput(options.to!), atEnd)
      : toDestination(new LineWriter(dest, { atEnd, endings: () => reading.endings(), keepFinal: dest.stream !== process.stdout }));
  try {
    await pipeline(reading.source, ...reading.stages, ...run.later, ...writer.stages, { signal, ...statsOptions });
    progress?.stop();
    await dest?.commit();
  } catch (err) {
    progress?.stop();
    await dest?.discard();
    throw err;
  } finally {
    shutdown.removeEventListener('abort', drain);
    totals.linesIn += reading.lines();
    totals.linesOut += writer.lines;
    totals.bytes += reading.bytes();
    totals.dropped += run.dropped();
  }
}

/** The FILEs (or stdin), split into lines by the per-line stages, or cut into chunks for --threads. */
function readFiles(inputs: Input[], run: Run, context: Context): Reading {
  const { options, skips } = context;
  if (options.threads > 1) {
    // --skip drops lines here, once per input: the chunks then carry their first line's number.
    const numberedLines = numbered(sources(options)) || options.skip > 0;
    // Regular files are read by the threads themselves, in ranges, unless lines need numbers here.
    const chunks =
      !numberedLines && readableInRanges(inputs)
        ? new Ranges(inputs, { binaryOk: options.text })
        : new Chunks(inputs, { binaryOk: options.text, numbered: numberedLines, skip: options.skip });
    const count = { read: 0 };
    // Lines that go straight to the writer come from the threads joined (see ThreadData).
    const joined = options.to === undefined && run.later.length === 0 && !isRows(options.output);
    const stages = [...threadedStages({ ...threading(options, joined), numbered: numberedLines, run, skips, lines: count }), ...rowsHere(options, run)];
    const skipped = (): number => (chunks instanceof Chunks ? chunks.skipped : 0);
    return { source: chunks, stages, lines: () => count.read + skipped(), bytes: () => chunks.bytesRead, endings: () => chunks.endings };
  }
  const lines = new Lines(inputs, run.input, options.text);
  return { source: lines, stages: [], lines: () => lines.linesRead, bytes: () => lines.bytesRead, endings: () => lines.endings };
}

/** --from: the entries of a Redis stream as lines (`data` fields), each line one record, never split. */
function readStream(from: RedisInput, stream: string, run: Run, context: Context): Reading {
  const { options, skips } = context;
  let bytes = 0;
  const line = (item: unknown): string => {
    const text = from.line(item as RedisEntry<string>);
    bytes += Buffer.byteLength(text);
    return text;
  };
  const stages =
    options.threads > 1
      ? [...threadedRecordStages({ ...threading(options, false), label: stream, line, entries: from, run, skips }), ...rowsHere(options, run)]
      : [run.records(stream, line, (error, item) => entryFailed(from, skips, item, error))];
  return {
    source: from.source,
    stages: [...(options.stages.some((s) => s.kind === 'take') ? [from.gate()] : []), ...(options.skip > 0 ? [skip(options.skip)] : []), ...stages],
    lines: () => from.source.delivered,
    bytes: () => bytes,
    endings: () => ({ newline: '\n', finalNewline: true }),
  };
}

/** --to-csv/--to-tsv with threads: their items are formatted here, so that the header comes once. */
function rowsHere(options: CliOptions, run: Run): Duplex[] {
  return isRows(options.output) && options.countBy === undefined && run.later.length === 0 ? [map(formatter(options.output), { name: 'rows' })] : [];
}

function threading(options: CliOptions, joined: boolean): { threads: number; concurrency: number; workerData: ThreadData } {
  // --skip is applied on the main thread (per input, or per run with --from), never per chunk.
  return {
    threads: options.threads,
    concurrency: typeof options.parallel === 'number' ? options.parallel : 1,
    workerData: { options: { ...options, skip: 0 }, joined },
  };
}

/** The last stages of a run, and how many output lines (entries) they have written. */
interface Output {
  stages: Writable[];
  readonly lines: number;
}

function toDestination(writer: LineWriter): Output {
  return {
    stages: [writer],
    get lines() {
      return writer.lines;
    },
  };
}

/**
 * --to: each output item an entry of the stream. The lines for the end (--count-by's, --end's) come
 * from a stage in front of the sink, once its input has ended.
 */
function toStream(sink: RedisSink<string>, atEnd: () => string[]): Output {
  const end = through<string>(undefined, function (callback) {
    for (const line of atEnd()) this.push(line);
    callback();
  });
  return {
    stages: [end, sink],
    get lines() {
      return sink.written;
    },
  };
}

/** Every EXPR of the command line. */
function sources(o: CliOptions): string[] {
  return [...o.stages.flatMap((s) => ('source' in s ? [s.source] : [])), ...(o.countBy === undefined ? [] : [o.countBy])];
}

/** The exit status for what ended the run, after saying why on stderr (except for a closed pipe). */
function failure(err: unknown): number {
  if (err instanceof ShutdownError) return 128 + (constants.signals[err.signal] ?? 0);
  // The reader went away (`… | head -1`): it has what it wanted; that is not a failure.
  if ((err as { code?: unknown } | null)?.code === 'EPIPE') return EXIT_OK;
  note(describeFailure(err));
  return err instanceof RunError ? err.status : EXIT_FAILURE;
}

/** Exits once stdout and stderr have handed everything to the OS (pipes are asynchronous). */
async function exit(code: number): Promise<never> {
  await Promise.all(
    [process.stdout, process.stderr].map((stream) =>
      stream.destroyed || stream.writableEnded ? undefined : new Promise<void>((resolve) => stream.write('', () => resolve())),
    ),
  );
  process.exit(code);
}

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/** Removes a temp file synchronously: for the ends that leave no time for more (a second signal, a stuck run). */
let abandon: () => void = () => {};

if (isMain()) {
  let settled = false;
  // The event loop ran dry under an unsettled run: some promise (an async expression's) will never
  // settle. Exiting 0 with half the output would look like success.
  process.once('beforeExit', () => {
    if (settled) return;
    abandon();
    note('the run cannot finish: an expression returned a promise that never settles');
    void exit(EXIT_FAILURE);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      settled = true;
      return exit(code);
    },
    (err: unknown) => {
      settled = true;
      // A bug in sluice itself: show everything there is.
      process.stderr.write(`sluice: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      return exit(EXIT_FAILURE);
    },
  );
}
