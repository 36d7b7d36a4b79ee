// The stages of a run, built from exported sluice stages only.
//
// Each input gets its own split({ name }) (or CSV parser), and every per-line stage up to the first
// order-bound one (--batch, --rate, --take) is fused into it by chain(): a line costs a few function
// calls and no stream hop, async stages run --parallel lines at a time, and an error names FILE:LINE
// (split's LineError). The order-bound stages, and what follows them, run once the inputs are joined;
// an error there names its flag and expression instead.
import type { Duplex } from 'node:stream';
import { batch, buffer, BufferStage, chain, filter, flatMap, LineError, map, rateLimit, skip, split, take, type StageContext } from '../index.js';
import type { CliOptions, StageSpec } from './args.js';
import { Counter, formatter, parseRecord } from './count.js';
import { csvRecords, located as csvLocated } from './csv.js';
import { ExprError, failureOf, UsageError, type Failure } from './errors.js';
import { compileAll, type ItemFn, type Scope } from './expr.js';
import { Fields } from './fields.js';
import { keyedStages } from './keyed.js';
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
  build(skips: Skips | undefined): Run;
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
  const compiled = compileAll(sources, { args: o.args, scope, ...(o.begin === undefined ? {} : { begin: o.begin }), ...(o.end === undefined ? {} : { end: o.end }) });
  let e = 0;
  const steps = o.stages.map((s): Step => ('source' in s ? { ...s, ...compiled.fns[e++]! } : s));
  const countBy = o.countBy === undefined ? undefined : compiled.fns[e++]!;
  const partitionBy = o.partitionBy === undefined ? undefined : compiled.fns[e]!;
  if (partitionBy?.async === true) throw new UsageError('--partition-by EXPR must give the key at once: an async one gives a new promise, so a new key, for every line');
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
    build(skips) {
      const counter = countBy === undefined ? undefined : new Counter();
      // What turns the last stage's items into output: a tally, or a line of text.
      const last: ItemFn[] = counter === undefined ? [formatter(o.output)] : [countBy!.fn, (key) => counter.add(key)];
      const tail = rest.length === 0 ? last : [];
      const laterStages = rest.map((step) => later(step, pool, skips, buffered));
      return {
        input(input, before, start) {
          scope.file = input.label;
          scope.before = before;
          const stages = [...head.map(stage), ...tail];
          if (o.input === 'csv' || o.input === 'tsv') {
            const parser = csvRecords(o.input, { header: o.header, skip: o.skip, skipErrors: skips === undefined ? undefined : (line, text) => skips.add({ file: input.label, ...(line === undefined ? {} : { line }), text }) });
            // No split() to name the line: each record carries where it started (csv.ts).
            const onError = (error: unknown, record: unknown): undefined => {
              const failure = new LineError({ ...csvLocated(record), file: input.label }, error);
              if (skips === undefined) throw failure;
              return skips.add(failureOf(failure));
            };
            return { stage: chain([parser.stream, parser.locate, ...stages], { ...pool, onError }), lines: parser.lines };
          }
          const lines = split<unknown>({ name: input.label, ...start });
          const first = [...(o.skip > 0 ? [skip(o.skip)] : []), ...(o.input === 'json' ? [parseJson] : [])];
          const onError = skips === undefined ? ('fail' as const) : (error: unknown) => skips.add(failureOf(error));
          const perLine = partitionBy === undefined ? stages : [...keyedStages(head, partitionBy.fn, { file: input.label, concurrency: o.parallel as number, skips }), ...tail];
          return { stage: chain([lines, ...first, ...perLine], { ...pool, onError }), lines: () => lines.lines };
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
          return end === undefined || end === null ? out : [...out, formatter(o.output)(end)];
        },
      };
    },
  };
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

function parseJson(line: unknown): unknown {
  const text = line as string;
  // Blank lines are common in NDJSON (a trailing one, a separator): skip them rather than fail.
  if (text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim() === '')) return undefined;
  return parseRecord(text);
}
