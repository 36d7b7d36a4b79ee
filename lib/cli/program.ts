// The stages of a run, built from exported sluice stages.
//
// Where the work happens, for speed: the leading synchronous --map/--filter stages (and --json's
// JSON.parse, and --count-by's key and tally when nothing follows) run inside each file's split(),
// as its `map`. A line then costs a few function calls and no stream hop at all, and an error comes
// out of split() as a LineError with the line number. Everything after the first stage that cannot
// run there (async, --flat-map, --batch, --rate, --take) runs in chain() (adjacent functions fused
// into one stream), parallel(), batch(), rateLimit() and take(), on items tagged with their
// FILE:LINE so that an error there can still name its line.
import type { Duplex } from 'node:stream';
import { batch, chain, parallel, rateLimit, take, type ChainStage, type StageContext } from '../index.js';
import type { CliOptions, StageSpec } from './args.js';
import { Counter, format } from './count.js';
import { LineFailure, UsageError, describe } from './errors.js';
import { compile, type ItemFn } from './expr.js';
import type { Input, LineFn } from './inputs.js';

type ExprSpec = Extract<StageSpec, { source: string }>;
type FnStep = { kind: ExprSpec['kind']; flag: string; fn: ItemFn; async: boolean };
type Step = FnStep | Exclude<StageSpec, ExprSpec>;

function isExpr(spec: StageSpec): spec is ExprSpec {
  return 'source' in spec;
}

/** Lines skipped by --skip-errors: how many, and the first one's message. */
export class Skips {
  count = 0;
  first: string | undefined;

  add(file: string, line: number, cause: unknown): undefined {
    this.count++;
    this.first ??= `${file}:${line}: ${describe(cause)}`;
    return undefined;
  }
}

/** A value on its way through the later stages, with the line it came from. */
class Tagged {
  constructor(
    readonly file: string,
    readonly line: number,
    public value: unknown,
  ) {}
}

/** One run's streams: fresh for each run (streams are single-use), from expressions compiled once. */
export interface Run {
  perLine: LineFn;
  stages: Duplex[];
  toText: (item: unknown) => string | undefined;
  /** --count-by's result lines, once the input has ended. */
  atEnd: (() => string[]) | undefined;
}

export interface Program {
  build(signal: AbortSignal, skips: Skips | undefined): Run;
}

/** Compiles every EXPR once; a syntax error, or --parallel without an async stage, is a UsageError. */
export function compileProgram(o: CliOptions): Program {
  const steps = o.stages.map((s): Step => (isExpr(s) ? { kind: s.kind, flag: s.flag, ...compile(s.flag, s.source) } : s));
  if (o.countBy !== undefined) steps.push({ kind: 'map', flag: '--count-by', ...compile('--count-by', o.countBy) });
  if (o.parallel !== undefined && !steps.some((s) => 'async' in s && s.async)) {
    throw new UsageError('--parallel runs async stages, and there is none: write `async (x) => …` or use `await` in the EXPR');
  }
  const headLength = steps.findIndex((s) => !(s.kind === 'map' || s.kind === 'filter') || s.async);
  const head = headLength === -1 ? steps : steps.slice(0, headLength);
  const rest = headLength === -1 ? [] : steps.slice(headLength);
  const counting = o.countBy !== undefined;

  return {
    build(signal, skips) {
      const counter = counting ? new Counter() : undefined;
      const atEnd = counter === undefined ? undefined : () => counter.lines(o.json, o.top);
      const run = fuse(head as FnStep[], signal);
      const parse = o.json ? parseJson : undefined;
      let end: (value: unknown, line: number, input: Input) => unknown;
      if (rest.length > 0) end = (value, line, input) => new Tagged(input.label, line, value);
      else if (counter !== undefined) end = (value) => counter.add(value);
      else end = format;
      let perLine: LineFn = (line, n, input) => {
        const item = parse === undefined ? line : parse(line);
        const value = item === undefined ? undefined : run(item);
        return value === undefined ? undefined : end(value, n, input);
      };
      if (skips !== undefined) {
        const unguarded = perLine;
        perLine = (line, n, input) => {
          try {
            return unguarded(line, n, input);
          } catch (err) {
            return skips.add(input.label, n, err);
          }
        };
      }
      if (rest.length === 0) return { perLine, stages: [], toText: (item) => item as string, atEnd };
      const fail = (t: Tagged, err: unknown): undefined => {
        if (skips !== undefined) return skips.add(t.file, t.line, err);
        throw new LineFailure(t.file, t.line, err);
      };
      const toText = (item: unknown): string | undefined => {
        const t = item as Tagged;
        try {
          if (counter === undefined) return format(t.value);
          counter.add(t.value);
        } catch (err) {
          fail(t, err);
        }
        return undefined;
      };
      return { perLine, stages: later(rest, o, fail), toText, atEnd };
    },
  };
}

function parseJson(line: string): unknown {
  // Blank lines are common in NDJSON (a trailing one, a separator): skip them rather than fail.
  if (line.length === 0 || (line.charCodeAt(0) <= 32 && line.trim() === '')) return undefined;
  return JSON.parse(line);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function promiseFrom(flag: string): TypeError {
  return new TypeError(`${flag} returned a promise: make it async (\`async x => …\`, or \`await\` in it) so that it is awaited`);
}

/**
 * The leading sync stages as one function, composed once: value in, value out, undefined when a
 * stage drops it. Each stage gets its own `{ signal, index }`, updated in place (no allocation).
 */
function fuse(steps: readonly FnStep[], signal: AbortSignal): (value: unknown) => unknown {
  let next = (value: unknown): unknown => value;
  for (const { kind, fn, flag } of [...steps].reverse()) {
    const ctx: StageContext = { signal, index: 0 };
    const after = next;
    next =
      kind === 'map'
        ? (value) => {
            const result = fn(value, ctx);
            ctx.index++;
            if (result === null || result === undefined) return undefined;
            if (isThenable(result)) throw promiseFrom(flag);
            return after(result);
          }
        : (value) => {
            const keep = fn(value, ctx);
            ctx.index++;
            if (isThenable(keep)) throw promiseFrom(flag);
            return keep ? after(value) : undefined;
          };
  }
  return next;
}

/** The stages after split(), on Tagged items. */
function later(steps: readonly Step[], o: CliOptions, fail: (t: Tagged, err: unknown) => undefined): Duplex[] {
  const streams: Duplex[] = [];
  let fns: ChainStage<unknown, unknown>[] = [];
  const flush = (): void => {
    if (fns.length > 0) streams.push(chain(fns));
    fns = [];
  };
  for (const step of steps) {
    switch (step.kind) {
      case 'map':
      case 'filter':
      case 'flat-map': {
        const fn = tagged(step, fail);
        if (!(step.async && o.parallel !== undefined)) {
          fns.push(fn);
          break;
        }
        flush();
        streams.push(parallel(fn, { concurrency: o.parallel, ordered: !o.unordered }));
        // The pool passes a flat-map's generator on as one item; a chain step unpacks it.
        if (step.kind === 'flat-map') fns.push((gen: unknown) => gen);
        break;
      }
      case 'batch':
        flush();
        streams.push(batch(step.size));
        fns.push((ts: unknown) => {
          const items = ts as Tagged[];
          return new Tagged(items[0]!.file, items[0]!.line, items.map((t) => t.value));
        });
        break;
      case 'rate':
        flush();
        streams.push(rateLimit({ rate: step.rate, per: step.per }));
        break;
      case 'take':
        flush();
        streams.push(take(step.n));
        break;
    }
  }
  flush();
  return streams;
}

/** A user function lifted to Tagged items: an error (sync or async) names the item's line. */
function tagged(step: FnStep, fail: (t: Tagged, err: unknown) => undefined): (item: unknown, ctx: StageContext) => unknown {
  const { kind, fn, flag } = step;
  const then = (t: Tagged, result: unknown): unknown => {
    if (kind === 'filter') return result ? t : undefined;
    if (result === undefined || result === null) return undefined;
    if (kind === 'flat-map') return spread(t, result, flag, fail);
    t.value = result;
    return t;
  };
  return (item, ctx) => {
    const t = item as Tagged;
    let result: unknown;
    try {
      result = fn(t.value, ctx);
      if (!isThenable(result)) return then(t, result);
    } catch (err) {
      return fail(t, err);
    }
    return Promise.resolve(result).then(
      (value) => {
        try {
          return then(t, value);
        } catch (err) {
          return fail(t, err);
        }
      },
      (err: unknown) => fail(t, err),
    );
  };
}

/** A --flat-map result as a generator of Tagged items (chain() pauses it while downstream is full). */
function spread(t: Tagged, result: unknown, flag: string, fail: (t: Tagged, err: unknown) => undefined): unknown {
  const tag = (value: unknown): Tagged | undefined => (value === undefined || value === null ? undefined : new Tagged(t.file, t.line, value));
  if (typeof result === 'string' || (typeof result === 'object' && result !== null && Symbol.iterator in result)) {
    return (function* () {
      try {
        for (const value of result as Iterable<unknown>) {
          const out = tag(value);
          if (out !== undefined) yield out;
        }
      } catch (err) {
        fail(t, err);
      }
    })();
  }
  if (typeof result === 'object' && result !== null && Symbol.asyncIterator in result) {
    return (async function* () {
      try {
        for await (const value of result as AsyncIterable<unknown>) {
          const out = tag(value);
          if (out !== undefined) yield out;
        }
      } catch (err) {
        fail(t, err);
      }
    })();
  }
  throw new TypeError(`${flag} must return an iterable (an array, a Set, a generator…), got ${typeof result}`);
}
