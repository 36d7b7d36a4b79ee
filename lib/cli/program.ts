// The stages of a run, built from exported sluice stages only.
//
// Each input gets its own split({ name }) (or CSV parser), and every per-line stage up to the first
// order-bound one (--batch, --rate, --take) is fused into it by chain(): a line costs a few function
// calls and no stream hop, async stages run --parallel lines at a time, and an error names FILE:LINE
// (split's LineError). The order-bound stages, and what follows them, run once the inputs are joined;
// an error there names its flag and expression instead.
//
// Records that are lines already (a Redis stream's entries, --from; a thread's share of them) go
// through the same stages without a split(): `records()`. The item written in stays what the chain's
// onError gets, so that a failure names (and dead-letters) its entry.
import type { Duplex } from 'node:stream';
import { batch, buffer, BufferStage, chain, filter, flatMap, LineError, map, rateLimit, skip, split, take, type StageContext } from '../index.js';
import type { CliOptions, OutputFormat, StageSpec } from './args.js';
import { Counter, formatter, linesOf, parseRecord } from './count.js';
import { csvRecords, located as csvLocated } from './csv.js';
import { EntryError, ExprError, failureOf, UsageError, type Failure } from './errors.js';
import { compileAll, type ItemFn, type Scope } from './expr.js';
import { Fields } from './fields.js';
import { keyedStages, origin } from './keyed.js';
import type { Input } from './inputs.js';

type ExprSpec = Extract<StageSpec, { source: string }>;
type PoolSettings = { concurrency: number | 'auto'; ordered: boolean };
type ExprStep = ExprSpec & { fn: ItemFn; async: boolean };
type Step = ExprStep | Exclude<StageSpec, ExprSpec>;

function isExpr(step: Step): step is ExprStep {
  return 'fn' in step;
}

/** Lines skipped by --skip-errors: how many, and the first one's failure. */
export class Skips {
  count = 0;
  first: Failure | undefined;

  add(failure: Failure, count = 1): undefined {
    this.count += count;
    this.first ??= failure;
    return undefined;
  }
}

/** What the command knows of the entries of a Redis stream (redis.ts's RedisInput has it). */
export interface Entries {
  /** `STREAM@ID` for an entry's item; undefined for anything else. */
  locate(item: unknown): string | undefined;
  deadLetter(item: unknown, error: unknown): boolean;
  noteFailure(item: unknown, error: unknown): boolean;
}

/**
 * An entry's item whose steps failed with `error` (on a thread: its description): with --skip-errors
 * it goes to the dead-letter stream and is dropped (so acknowledged); otherwise the error is noted
 * for the entry, which stays pending for another try, and the run stops with an EntryError naming it.
 */
export function entryFailed(entries: Entries, skips: Skips | undefined, item: unknown, error: unknown): undefined {
  const where = entries.locate(item);
  const failure = where === undefined ? error : new EntryError(where, error);
  if (skips === undefined) {
    entries.noteFailure(item, error);
    throw failure;
  }
  entries.deadLetter(item, error);
  return skips.add(failureOf(failure));
}

/** What a run reads from one input: the stage its text is piped into, and how many lines it has read. */
export interface InputStage {
  stage: Duplex;
  lines(): number;
}

/** Where a part of an input starts (a thread's chunk): its first line's number and byte offset. */
export interface Start {
  firstLine: number;
  firstOffset: number;
}

/** One run's streams: fresh for each run (streams are single-use), from expressions compiled once. */
export interface Run {
  /**
   * The per-line stages of one input (or of a part of it starting at `start`), fused into its split();
   * `before`: lines of the inputs before it. Without order-bound stages they give output lines.
   */
  input(input: Input, before: number, start?: Start): InputStage;
  /**
   * The per-line stages for items written in that are not text to split (a Redis stream's entries): a
   * fused `line(item)` gives each one's line, then the stages run as for a file's lines, without line
   * numbers (NR and FNR are undefined) and with `label` as FILENAME. `onError(error, item)` gets the
   * item written in whose steps failed: it returns undefined to drop it, or throws to stop the run.
   * --skip is not applied here (a thread has only a part of the records): the caller puts it in front.
   */
  records(label: string, line: (item: unknown) => string, onError: (error: unknown, item: unknown) => undefined): Duplex;
  /** The stages after the inputs are joined; their last one gives output lines (strings). */
  later: Duplex[];
  /** --count-by's tally so far, to merge a thread's into the main one. */
  counts(): [unknown, number][];
  /** Adds a thread's tally. */
  merge(counts: readonly [unknown, number][]): void;
  /** Lines to write once the input has ended: --count-by's result, --end's value. */
  atEnd(): string[];
  /** Items a full --buffer dropped (--drop). */
  dropped(): number;
}

export interface Program {
  /** --begin, run once before any input. */
  begin(): void;
  /**
   * `stop`: the input is a Redis stream, which --take does not end by destroying it (the entries in
   * flight would all stay unacknowledged, those done included): after N items it calls `stop()`, which
   * stops the input, and drops (so acknowledges) the items still on their way. `rows: false`: the
   * per-line stages leave --to-csv/--to-tsv items as they are (a thread's: the header is written
   * once, by the main thread, which formats them).
   */
  build(skips: Skips | undefined, stop?: () => void, rows?: boolean): Run;
}

/** Compiles every EXPR once; a syntax error, or --parallel without an async stage, is a UsageError. */
export function compileProgram(o: CliOptions): Program {
  const scope: Scope = { fields: new Fields(o.fieldSeparator), file: '', before: 0 };
  const exprs = o.stages.filter((s): s is ExprSpec => 'source' in s);
  const sources = [
    ...exprs,
    ...(o.countBy === undefined ? [] : [{ flag: '--count-by', source: o.countBy }]),
    ...(o.partitionBy === undefined ? [] : [{ flag: '--partition-by', source: o.partitionBy }]),
  ];
  const compiled = compileAll(sources, {
    args: o.args,
    scope,
    ...(o.begin === undefined ? {} : { begin: o.begin }),
    ...(o.end === undefined ? {} : { end: o.end }),
  });
  let e = 0;
  const steps = o.stages.map((s): Step => ('source' in s ? { ...s, ...compiled.fns[e++]! } : s));
  const countBy = o.countBy === undefined ? undefined : compiled.fns[e++]!;
  const partitionBy = o.partitionBy === undefined ? undefined : compiled.fns[e]!;
  if (partitionBy?.async === true)
    throw new UsageError('--partition-by EXPR must give the key at once: an async one gives a new promise, so a new key, for every line');
  if (o.parallel !== undefined && !compiled.fns.some((c) => c.async)) {
    throw new UsageError('--parallel runs async stages, and there is none: write `async (x) => …` or use `await` in the EXPR');
  }
  const split1 = steps.findIndex((s) => !isExpr(s));
  const head = (split1 === -1 ? steps : steps.slice(0, split1)) as ExprStep[];
  const rest = split1 === -1 ? [] : steps.slice(split1);
  // With --partition-by, --parallel counts keys, and each key's stages run one line at a time.
  const pool = { concurrency: partitionBy === undefined ? (o.parallel ?? 1) : 1, ordered: !o.unordered };
  const buffered = { overflow: o.drop === undefined ? ('block' as const) : (`drop-${o.drop}` as const) };

  return {
    begin() {
      compiled.begin?.();
    },
    build(skips, stop, rows = true) {
      const counter = countBy === undefined ? undefined : new Counter();
      // What turns the last stage's items into output: a tally, or a line of text.
      const last: ItemFn[] = counter === undefined ? [formatter(o.output)] : [countBy!.fn, (key) => counter.add(key)];
      const unformatted = !rows && counter === undefined && isRows(o.output);
      const tail = rest.length === 0 && !unformatted ? last : [];
      const laterStages = rest.map((step) => (step.kind === 'take' && stop !== undefined ? stoppingTake(step.n, stop) : later(step, pool, skips, buffered)));
      // Fresh for each input: a stream runs once.
      const perLine = (): (Duplex | ItemFn)[] => [...head.map(stage), ...tail];
      const json = o.input === 'json' ? [parseJson] : [];
      return {
        records(label, line, onError) {
          scope.file = label;
          scope.before = 0;
          if (partitionBy === undefined) return chain([line, ...json, ...perLine()], { ...pool, onError });
          // The key's step runs in the same synchronous pass as `line` (the key is never async, and
          // the steps between are JSON.parse at most): the item written in is at hand for its tag.
          let current: unknown;
          const keyed = keyedStages(head, partitionBy.fn, {
            concurrency: o.parallel as number,
            where: () => ({ line: undefined, offset: undefined, origin: current }),
            onError: (error, where) => onError(error, where.origin),
          });
          const first = (item: unknown): string => {
            current = item;
            return line(item);
          };
          // After the partition, items are still tagged (the step that unwraps them comes first there).
          return chain([first, ...json, ...keyed, ...tail], { ...pool, onError: (error, item) => onError(error, origin(item)) });
        },
        input(input, before, start) {
          scope.file = input.label;
          scope.before = before;
          if (o.input === 'csv' || o.input === 'tsv') {
            const parser = csvRecords(o.input, {
              header: o.header,
              skip: o.skip,
              skipErrors: skips === undefined ? undefined : (line, text) => skips.add({ file: input.label, ...(line === undefined ? {} : { line }), text }),
            });
            // No split() to name the line: each record carries where it started (csv.ts).
            const onError = (error: unknown, record: unknown): undefined => {
              const failure = new LineError({ ...csvLocated(record), file: input.label }, error);
              if (skips === undefined) throw failure;
              return skips.add(failureOf(failure));
            };
            return { stage: chain([parser.stream, parser.locate, ...perLine()], { ...pool, onError }), lines: parser.lines };
          }
          const lines = split<unknown>({ name: input.label, ...start });
          const first = [...(o.skip > 0 ? [skip(o.skip)] : []), ...json];
          const onError = skips === undefined ? ('fail' as const) : (error: unknown) => skips.add(failureOf(error));
          if (partitionBy === undefined) return { stage: chain([lines, ...first, ...perLine()], { ...pool, onError }), lines: () => lines.lines };
          const keyed = keyedStages(head, partitionBy.fn, {
            concurrency: o.parallel as number,
            // Fused into split(): every line has its number.
            where: (ctx) => ({ line: ctx.line, offset: ctx.offset, origin: undefined }),
            onError(error, where) {
              const failure = new LineError({ file: input.label, line: where.line!, offset: where.offset! }, error);
              if (skips === undefined) throw failure;
              return skips.add(failureOf(failure));
            },
          });
          return { stage: chain([lines, ...first, ...keyed, ...tail], { ...pool, onError }), lines: () => lines.lines };
        },
        later: rest.length === 0 ? [] : [...laterStages, chain(last)],
        dropped: () => laterStages.reduce((sum, stage) => sum + (stage instanceof BufferStage ? stage.dropped : 0), 0),
        counts: () => counter?.entries() ?? [],
        merge(counts) {
          counter?.merge(counts);
        },
        atEnd() {
          const out = counter === undefined ? [] : counter.lines(o.output, o.top);
          const end = compiled.end?.();
          return end === undefined || end === null ? out : [...out, ...linesOf(formatter(o.output)(end))];
        },
      };
    },
  };
}

/** Whether items are written as CSV or TSV rows, whose header comes once, with the first. */
export function isRows(output: OutputFormat): boolean {
  return output === 'csv' || output === 'tsv';
}

/** A sluice stage for an expression: chain() fuses it with its neighbours. */
function stage({ kind, fn }: ExprStep): Duplex {
  return kind === 'map' ? map(fn) : kind === 'filter' ? filter(fn) : flatMap(fn as (item: unknown, ctx: StageContext) => Iterable<unknown>);
}

/** A stage after the inputs were joined: an order-bound one, or an expression whose errors name it. */
function later(step: Step, pool: PoolSettings, skips: Skips | undefined, buffered: { overflow: 'block' | 'drop-oldest' | 'drop-newest' }): Duplex {
  if (!isExpr(step)) {
    if (step.kind === 'batch') return batch(step.size);
    if (step.kind === 'rate') return rateLimit({ rate: step.rate, per: step.per });
    if (step.kind === 'buffer') return buffer(step.size, buffered);
    return take(step.n);
  }
  const onError = (error: unknown): undefined => {
    const failure = new ExprError(step.flag, step.source, error);
    if (skips === undefined) throw failure;
    return skips.add(failureOf(failure));
  };
  return chain([stage(step)], { ...pool, onError });
}

/** --take N on a Redis input: passes N items, then calls `stop()` and drops what still comes. */
function stoppingTake(n: number, stop: () => void): Duplex {
  let left = n;
  if (n === 0) stop();
  return filter(
    () => {
      if (left === 0) return false;
      if (--left === 0) stop();
      return true;
    },
    { name: 'take' },
  );
}

function parseJson(line: unknown): unknown {
  const text = line as string;
  // Blank lines are common in NDJSON (a trailing one, a separator): skip them rather than fail.
  if (text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim() === '')) return undefined;
  return parseRecord(text);
}
