/**
 * The shape of a benchmark scenario, and helpers the scenarios share. run.ts explains how they are run.
 *
 * A scenario file exports `scenario`: a description, the cases (inputs, made by `prepare` in the runner)
 * and the variants. Each run of a variant happens in a fresh process: an in-process variant's `setup`
 * runs there untimed (imports, building the pipeline) and returns the job that is timed; a command
 * variant is a program whose whole run is timed. Variants import what they measure inside `setup`, so
 * a process loads only its own library and a missing one fails only its own variant.
 *
 * @module
 */
import { Writable } from 'node:stream';

/** What a timed job reports. The runner adds the wall time and the peak RSS. */
export interface Work {
  /** Items that came out (lines, objects); checked against the case's expected count. */
  items?: number;
  /** A value every correct variant of a case reports alike (a checksum, a digest of counts). */
  check?: string | number;
  /** Scenario-specific figures, shown in the scenario's extra columns. */
  extra?: Record<string, number>;
}

/** The timed part of an in-process variant. */
export type Job = () => Promise<Work>;

interface VariantBase {
  /** Unique within the scenario; also the name targets and ratios use. */
  name: string;
  /** A sluice stage under test: gets a ratio to each peer. Peers leave it unset. */
  sluice?: boolean;
}

/** Runs in a fresh `node` process: `setup` (not timed) returns the job (timed). */
export interface InProcessVariant<P> extends VariantBase {
  setup(params: P): Promise<Job>;
}

/** A program to spawn; its whole run (start-up included) is timed, its peak RSS sampled. */
export interface CommandVariant<P> extends VariantBase {
  /** The program and arguments, or why it is skipped (e.g. not installed). Throw `MissingError` when not built. */
  command(params: P, root: string): { file: string; args: string[] } | { skip: string };
  /** Reads the program's stdout into items and a check value. */
  parse?(stdout: string): Work;
}

export type Variant<P> = InProcessVariant<P> | CommandVariant<P>;

/** One input of a scenario; every variant runs on every case. */
export interface Case<P> {
  /** Short name, used by targets (`mixed`, `c64`). */
  name: string;
  /** What the input is, for the table's heading. */
  title: string;
  /** Passed to the variants (JSON: it crosses to the child process). */
  params: P;
  /** Items of work in the input, for the rate of variants that report none (a raw read). */
  items?: number;
  /** Bytes of input, for MB/s. */
  bytes?: number;
  /** What a correct variant reports; when `check` is unset, the first variant's is the reference. */
  expect?: Work;
}

/** A generated access log in the runner's temporary folder. */
export interface LogFile {
  path: string;
  bytes: number;
  lines: number;
}

/** What the runner gives `prepare`. */
export interface Context {
  /** `--quick`: small inputs, one round, a smoke test. */
  quick: boolean;
  /** `--size`: bytes of the generated logs. */
  size: number;
  /** `--items`: objects through the chains. */
  items: number;
  /** `--duration`: seconds of the slow-consumer runs. */
  duration: number;
  /** The generated log of `--size` bytes with this share of non-ASCII lines (made once, then reused). */
  log(nonAsciiRatio: number): Promise<LogFile>;
}

/** A speed target from an issue, checked and printed (never judged by the exit code). */
export type Target = {
  /** Only this case; every case when unset. */
  case?: string;
  variant: string;
} & (
  | { /** `variant`'s rate is at least `atLeast` times this peer's. */ vs: string; atLeast: number }
  | { /** `variant`'s peak RSS is under this many MiB. */ rssUnderMB: number }
  | { /** `variant`'s extra figure `[key, limit]` is under the limit. */ extraUnder: readonly [string, number] }
);

/** An extra column from `Work.extra`. */
export interface Column {
  key: string;
  label: string;
  format(value: number): string;
}

export interface Scenario<P> {
  description: string;
  /** What `items` counts, for the rate column (`lines`, `items`). */
  unit: string;
  prepare(context: Context): Promise<Array<Case<P>>>;
  variants: Array<Variant<P>>;
  /** Ratios make no sense when a consumer sets the pace; default true. */
  ratios?: boolean;
  columns?: Column[];
  targets?: Target[];
}

/** The sluice build lacks what a variant needs: with `--allow-missing` this failure does not fail the run. */
export class MissingError extends Error {
  override name = 'MissingError';
}

/** An object-mode sink that counts numbers and adds them up (the check of the chain and parallel runs). */
export function sumSink(): { sink: Writable; work: () => Work } {
  let items = 0;
  let sum = 0;
  const sink = new Writable({
    objectMode: true,
    write(value: number, _encoding, callback) {
      items++;
      sum += value;
      callback();
    },
  });
  return { sink, work: () => ({ items, check: sum }) };
}

/** 0, 1, …, n - 1. */
export function* range(n: number): Generator<number, void, undefined> {
  for (let i = 0; i < n; i++) yield i;
}

/** Least-squares slope of `points` ([x, y] pairs); 0 with fewer than two (RSS growth per second). */
export function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const sxy = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  const sxx = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}
