// The stages of a run, built from exported sluice stages only.
//
// Each input gets its own split({ name }), and every per-line stage up to the first order-bound one
// (--batch, --rate, --take) is fused into it by chain(): a line costs a few function calls and no
// stream hop, async stages run --parallel lines at a time, and an error names FILE:LINE (split's
// LineError). The order-bound stages, and what follows them, run once the inputs are joined; an error
// there names its flag and expression instead.
import type { Duplex } from 'node:stream';
import { batch, chain, filter, flatMap, map, rateLimit, split, take, type Split, type StageContext } from '../index.js';
import type { CliOptions, StageSpec } from './args.js';
import { Counter, format } from './count.js';
import { ExprError, UsageError } from './errors.js';
import { compile, type ItemFn } from './expr.js';
import type { Input } from './inputs.js';

type ExprSpec = Extract<StageSpec, { source: string }>;
type ExprStep = { kind: ExprSpec['kind']; flag: string; source: string; fn: ItemFn; async: boolean };
type Step = ExprStep | Exclude<StageSpec, ExprSpec>;

function isExpr(step: Step): step is ExprStep {
  return 'fn' in step;
}

/** Lines skipped by --skip-errors: how many, and the first one's message. */
export class Skips {
  count = 0;
  first: string | undefined;

  add(message: string): undefined {
    this.count++;
    this.first ??= message;
    return undefined;
  }
}

/** One run's streams: fresh for each run (streams are single-use), from expressions compiled once. */
export interface Run {
  /** The per-line stages of one input, fused into its split(): returns the split, which counts lines. */
  lines(input: Input): { split: Split<unknown>; stage: Duplex };
  /** The stages after the inputs are joined; their last one gives output lines (strings). */
  later: Duplex[];
  /** --count-by's result lines, once the input has ended. */
  atEnd: (() => string[]) | undefined;
}

export interface Program {
  build(skips: Skips | undefined, describe: (error: unknown) => string): Run;
}

/** Compiles every EXPR once; a syntax error, or --parallel without an async stage, is a UsageError. */
export function compileProgram(o: CliOptions): Program {
  const steps = o.stages.map((s): Step => ('source' in s ? { ...s, ...compile(s.flag, s.source) } : s));
  const countBy = o.countBy === undefined ? undefined : { kind: 'map' as const, flag: '--count-by', source: o.countBy, ...compile('--count-by', o.countBy) };
  if (o.parallel !== undefined && ![...steps, ...(countBy === undefined ? [] : [countBy])].some((s) => isExpr(s) && s.async)) {
    throw new UsageError('--parallel runs async stages, and there is none: write `async (x) => …` or use `await` in the EXPR');
  }
  const split1 = steps.findIndex((s) => !isExpr(s));
  const head = (split1 === -1 ? steps : steps.slice(0, split1)) as ExprStep[];
  const rest = split1 === -1 ? [] : steps.slice(split1);
  const pool = { concurrency: o.parallel ?? 1, ordered: !o.unordered };

  return {
    build(skips, describe) {
      const counter = countBy === undefined ? undefined : new Counter();
      // What turns the last stage's items into output: a tally, or a line of text.
      const last: ItemFn[] = [...(countBy === undefined ? [] : [countBy.fn]), counter === undefined ? format : (key: unknown) => counter.add(key)];
      const atEnd = counter === undefined ? undefined : () => counter.lines(o.json, o.top);
      const onError = skips === undefined ? ('fail' as const) : (error: unknown) => skips.add(describe(error));
      const parse = o.json ? [parseJson] : [];
      return {
        lines(input) {
          const lines = split<unknown>({ name: input.label });
          const fns = [...parse, ...head.map(stage), ...(rest.length === 0 ? last : [])];
          return { split: lines, stage: chain([lines, ...fns], { ...pool, onError }) };
        },
        later: rest.length === 0 ? [] : [...rest.map((step) => later(step, pool, skips, describe)), chain(last)],
        atEnd,
      };
    },
  };
}

/** A sluice stage for an expression: chain() fuses it with its neighbours. */
function stage({ kind, fn }: ExprStep): Duplex {
  return kind === 'map' ? map(fn) : kind === 'filter' ? filter(fn) : flatMap(fn as (item: unknown, ctx: StageContext) => Iterable<unknown>);
}

/** A stage after the inputs were joined: an order-bound one, or an expression whose errors name it. */
function later(step: Step, pool: { concurrency: number; ordered: boolean }, skips: Skips | undefined, describe: (error: unknown) => string): Duplex {
  if (!isExpr(step)) {
    if (step.kind === 'batch') return batch(step.size);
    if (step.kind === 'rate') return rateLimit({ rate: step.rate, per: step.per });
    return take(step.n);
  }
  const onError = (error: unknown): undefined => {
    const failure = new ExprError(step.flag, step.source, error);
    if (skips === undefined) throw failure;
    return skips.add(describe(failure));
  };
  return chain([stage(step)], { ...pool, onError });
}

function parseJson(line: unknown): unknown {
  const text = line as string;
  // Blank lines are common in NDJSON (a trailing one, a separator): skip them rather than fail.
  if (text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim() === '')) return undefined;
  return JSON.parse(text);
}
