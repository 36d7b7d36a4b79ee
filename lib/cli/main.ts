#!/usr/bin/env node
// `sluice [options] [FILE...]`: argv → a pipeline of exported sluice stages → stdout or a file.
import { constants } from 'node:os';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pipeline, shutdownSignal, ShutdownError, type StatsReport } from '../index.js';
import { HELP, parseCli, version, type CliOptions } from './args.js';
import { describeFailure, formatFailure, RunError, UsageError } from './errors.js';
import { checkInputs, Lines, type Input } from './inputs.js';
import { fileDestination, LineWriter, stdoutDestination, type Destination } from './output.js';
import { loadCsv } from './csv.js';
import { Chunks, numbered, threadedStages } from './threaded.js';
import { compileProgram, Skips, type Program } from './program.js';
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
  const context: Context = { program, options, shutdown: shutdown.signal, skips, totals, report: undefined };
  const started = performance.now();
  let stdout: Destination | undefined;
  try {
    const inputs = await checkInputs(options.files);
    // --in-place: one run per file, each into its own temp file.
    const jobs = options.inPlace ? inputs.map((input) => ({ inputs: [input], target: input.name })) : [{ inputs, target: options.outFile }];
    program.begin();
    for (const job of jobs) {
      dest = job.target === undefined ? (stdout ??= stdoutDestination()) : await fileDestination(job.target, options.inPlace);
      await runJob(job.inputs, dest, context);
    }
    // Every line failed: nothing of the input made it through, which is not success.
    if (skips !== undefined && skips.count > 0 && skips.count >= totals.linesIn) return EXIT_FAILURE;
    return EXIT_OK;
  } catch (err) {
    return failure(err);
  } finally {
    shutdown.dispose();
    if (skips !== undefined && skips.count > 0 && !options.quiet) {
      note(`skipped ${skips.count} line${skips.count === 1 ? '' : 's'} with errors; the first: ${formatFailure(skips.first!)}`);
    }
    // Never lost without a word: a full --buffer's drops are told even without --stats.
    if (totals.dropped > 0 && !options.quiet) note(`--buffer was full: dropped ${totals.dropped} item${totals.dropped === 1 ? '' : 's'} (--drop ${options.drop!})`);
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
}

/** Reads `inputs` through the program into `dest`; commits `dest` on success, discards it on failure. */
async function runJob(inputs: Input[], dest: Destination, context: Context): Promise<void> {
  const { program, options, shutdown, skips, totals } = context;
  // EPIPE or a failed write stops the run as a shutdown does: every stage is destroyed.
  const signal = AbortSignal.any([shutdown, dest.failed]);
  const run = program.build(skips);
  const threadedCount = { read: 0 };
  const lines = options.threads > 1 ? new Chunks(inputs, { binaryOk: options.text, numbered: numbered(sources(options)) }) : new Lines(inputs, run.input, options.text);
  const stages = lines instanceof Chunks
    ? threadedStages({ threads: options.threads, concurrency: typeof options.parallel === 'number' ? options.parallel : 1, workerData: { options }, numbered: numbered(sources(options)), run, skips, lines: threadedCount })
    : [];
  const linesToTerminal = dest.stream === process.stdout && process.stdout.isTTY === true && options.countBy === undefined;
  const progress = wantProgress({ quiet: options.quiet, sizes: inputs.map((i) => i.size), linesToTerminal })
    ? startProgress({
        stream: process.stderr,
        total: inputs.reduce((sum, i) => sum + i.size!, 0),
        done: () => lines.bytesRead,
        bottleneck: () => context.report?.bottleneck?.name,
        color: colorAllowed(),
      })
    : undefined;
  // Reports for the bar (live) and for --stats (the last one).
  const counting = progress !== undefined || options.stats || options.statsJson;
  const statsOptions = counting ? { onStats: (report: StatsReport) => (context.report = report), statsInterval: 250 } : {};
  const writer = new LineWriter(dest, {
    // The bar goes before the results that come at the end (--count-by's) share its terminal.
    atEnd: () => (progress?.stop(), run.atEnd()),
    endings: () => lines.endings,
    keepFinal: dest.stream !== process.stdout,
  });
  try {
    await pipeline(lines, ...stages, ...run.later, writer, { signal, ...statsOptions });
    progress?.stop();
    await dest.commit();
  } catch (err) {
    progress?.stop();
    await dest.discard();
    throw err;
  } finally {
    totals.linesIn += lines instanceof Chunks ? threadedCount.read : lines.linesRead;
    totals.linesOut += writer.lines;
    totals.bytes += lines.bytesRead;
    totals.dropped += run.dropped();
  }
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
