// Random pipelines against a model. Each case draws a source (0-120 items from an array, a sync or async
// generator, Readable.from or merge()), 1-5 stages from every combinator (about half of them inside a
// chain()), and one fault (a throw of an Error or a falsy value at some call, sync or async; an abort or
// a timeout at a random time; destroy(err) of a stage; the abort of a stage's own signal). Each run is
// checked for: its output against the model (as a multiset where order is not guaranteed), the exact
// rejection, every in-flight call's signal aborted, no user function called after the pipeline settled,
// leakCheck() clean, and settling within SETTLE_MS.
//
// `npm test` runs RUNS cases; `npm run fuzz` runs FUZZ_RUNS=10000. FUZZ_SEED (and FUZZ_PATH) replay a
// failure that fast-check reported.
import t from 'tap';
import fc from 'fast-check';
import { PassThrough, Readable, Writable, type Duplex } from 'node:stream';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import {
  batch,
  chain,
  distribute,
  filter,
  flatMap,
  many,
  map,
  merge,
  parallel,
  pipeline,
  rateLimit,
  skip,
  take,
  tee,
  through,
  TimeoutError,
  type StageContext,
} from '../lib/index.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { Unsettled, within } from './fixtures/settle.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 800);
const SETTLE_MS = 5000;
// Generous: a loaded 2-core machine runs the CI-sized suite in well under a minute.
t.setTimeout(Math.max(120_000, RUNS * 400));

// ---- What a case is made of: plain data, so that fast-check prints a failing case as it is. ----

type FnKind = 'add' | 'drop' | 'dup' | 'gen';
/** How a function returns: at once, after a microtask, after setImmediate, or (every 8th call) after 1 ms. */
type Mode = 'sync' | 'micro' | 'tick' | 'timer';
interface FnSpec {
  kind: FnKind;
  k: number;
  mode: Mode;
}

type StageSpec =
  | { type: 'map'; fn: FnSpec }
  | { type: 'filter'; k: number; mode: Mode }
  | { type: 'flatMap'; fn: FnSpec }
  | { type: 'chain'; fns: FnSpec[]; concurrency: number; ordered: boolean }
  | { type: 'parallel'; fn: FnSpec; concurrency: number; ordered: boolean }
  | { type: 'batch'; size: number; maxWait: number | null }
  | { type: 'take'; n: number }
  | { type: 'skip'; n: number }
  | { type: 'rateLimit'; burst: number }
  | { type: 'tee'; highWaterMark: number; slow: boolean }
  | { type: 'distribute'; n: number; worker: 'map' | 'parallel' | 'chain'; fn: FnSpec }
  | { type: 'through'; form: 'classic' | 'async' | 'twice'; k: number };

/** 'chain': alone in a chain(); 'chainPre': the same behind an identity function; 'join': in the previous chain, if any. */
type Wrap = 'none' | 'chain' | 'chainPre' | 'join';
/** A stage, how it is wrapped, and the highWaterMark it is given (null: none, so chain() may fuse it). */
interface Placed {
  stage: StageSpec;
  wrap: Wrap;
  highWaterMark: number | null;
}

type SourceSpec = { type: 'array' | 'syncGen' | 'syncGenFn' | 'asyncGen' | 'readable' } | { type: 'merge'; parts: number; generators: boolean };

type FaultValue = 'error' | 'undefined' | 'null' | 'zero' | 'empty' | 'false';
/**
 * When a fault strikes: after `ms` milliseconds, or at the `call`-th call of any function (a source's
 * pulls included), then or in a microtask.
 */
type When = { ms: number } | { call: number; sync: boolean };
type Fault =
  | { type: 'none' }
  | { type: 'throw'; site: number; at: number; value: FaultValue; async: boolean }
  | { type: 'abort'; when: When }
  | { type: 'timeout'; ms: number }
  | { type: 'destroy'; stage: number; when: When }
  | { type: 'stageSignal'; stage: number; when: When };

interface Case {
  items: number[];
  source: SourceSpec;
  stages: Placed[];
  fault: Fault;
}

const mode = fc.constantFrom<Mode>('sync', 'sync', 'micro', 'tick', 'timer');
const fnSpec = (kinds: FnKind[]): fc.Arbitrary<FnSpec> => fc.record({ kind: fc.constantFrom(...kinds), k: fc.integer({ min: 1, max: 5 }), mode });
const allKinds: FnKind[] = ['add', 'drop', 'dup', 'gen'];
const stageSpec: fc.Arbitrary<StageSpec> = fc.oneof(
  fc.record({ type: fc.constant('map' as const), fn: fnSpec(allKinds) }),
  fc.record({ type: fc.constant('filter' as const), k: fc.integer({ min: 1, max: 4 }), mode }),
  fc.record({ type: fc.constant('flatMap' as const), fn: fnSpec(allKinds) }),
  fc.record({
    type: fc.constant('chain' as const),
    fns: fc.array(fnSpec(allKinds), { minLength: 1, maxLength: 3 }),
    concurrency: fc.integer({ min: 1, max: 3 }),
    ordered: fc.boolean(),
  }),
  fc.record({ type: fc.constant('parallel' as const), fn: fnSpec(['add', 'drop']), concurrency: fc.integer({ min: 1, max: 4 }), ordered: fc.boolean() }),
  fc.record({ type: fc.constant('batch' as const), size: fc.integer({ min: 1, max: 5 }), maxWait: fc.option(fc.integer({ min: 1, max: 3 })) }),
  fc.record({ type: fc.constant('take' as const), n: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ type: fc.constant('skip' as const), n: fc.integer({ min: 0, max: 10 }) }),
  fc.record({ type: fc.constant('rateLimit' as const), burst: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ type: fc.constant('tee' as const), highWaterMark: fc.integer({ min: 1, max: 4 }), slow: fc.boolean() }),
  fc.record({
    type: fc.constant('distribute' as const),
    n: fc.integer({ min: 1, max: 3 }),
    worker: fc.constantFrom('map' as const, 'parallel' as const, 'chain' as const),
    fn: fnSpec(['add', 'drop', 'dup']),
  }),
  fc.record({
    type: fc.constant('through' as const),
    form: fc.constantFrom('classic' as const, 'async' as const, 'twice' as const),
    k: fc.integer({ min: 1, max: 5 }),
  }),
);
const when: fc.Arbitrary<When> = fc.oneof(fc.record({ ms: fc.nat({ max: 5 }) }), {
  weight: 3,
  arbitrary: fc.record({ call: fc.nat({ max: 60 }), sync: fc.boolean() }),
});
const caseSpec: fc.Arbitrary<Case> = fc.record({
  items: fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 120, size: 'medium' }),
  source: fc.oneof(
    fc.record({ type: fc.constantFrom('array' as const, 'syncGen' as const, 'syncGenFn' as const, 'asyncGen' as const, 'readable' as const) }),
    fc.record({ type: fc.constant('merge' as const), parts: fc.integer({ min: 1, max: 3 }), generators: fc.boolean() }),
  ),
  stages: fc.array(
    fc.record({
      stage: stageSpec,
      wrap: fc.constantFrom<Wrap>('none', 'chain', 'chainPre', 'join'),
      highWaterMark: fc.option(fc.nat({ max: 4 }), { freq: 3 }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  fault: fc.oneof(
    { weight: 1, arbitrary: fc.constant({ type: 'none' as const }) },
    {
      weight: 3,
      arbitrary: fc.record({
        type: fc.constant('throw' as const),
        site: fc.nat({ max: 20 }),
        at: fc.nat({ max: 60 }),
        value: fc.constantFrom<FaultValue>('error', 'undefined', 'null', 'zero', 'empty', 'false'),
        async: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('abort' as const), when }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('timeout' as const), ms: fc.integer({ min: 1, max: 5 }) }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('destroy' as const), stage: fc.nat({ max: 10 }), when }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('stageSignal' as const), stage: fc.nat({ max: 10 }), when }) },
  ),
});

// ---- The model: what each function does to one item, and what each stage does to the items. ----

function apply({ kind, k }: FnSpec, x: number): number[] {
  switch (kind) {
    case 'add':
      return [x + k];
    case 'drop':
      return x % (k + 1) === 0 ? [] : [x];
    case 'dup':
      return [x, x + k];
    case 'gen':
      return Array.from({ length: k % 3 }, (_, i) => x + i);
  }
}
const FANOUT: Record<FnKind, number> = { add: 1, drop: 1, dup: 2, gen: 2 };

/**
 * What may come out at a point of the pipeline. `exact`: `items` is the output (in order when
 * `ordered`). Otherwise (after a take() or skip() of items in no set order) `items` are candidates:
 * the output is a sub-multiset of them, of at most `max` items.
 */
interface Model {
  items: number[];
  exact: boolean;
  ordered: boolean;
  max: number;
}

function mapped(model: Model, fn: (x: number) => number[], fanout: number, reorders: boolean): Model {
  const items = model.items.flatMap(fn);
  return { items, exact: model.exact, ordered: model.ordered && !reorders, max: model.exact ? items.length : model.max * fanout };
}

function taken(model: Model, n: number): Model {
  if (model.exact && model.ordered) return { ...model, items: model.items.slice(0, n), max: Math.min(n, model.max) };
  if (model.exact && n >= model.items.length) return model;
  return { ...model, exact: false, max: Math.min(n, model.max) };
}

function skipped(model: Model, n: number): Model {
  if (model.exact && model.ordered) {
    const items = model.items.slice(n);
    return { ...model, items, max: items.length };
  }
  if (!model.exact || n === 0) return model;
  if (n >= model.items.length) return { ...model, items: [], max: 0 };
  return { ...model, exact: false, max: model.items.length - n };
}

// ---- One run: the streams built from a case, and what their functions saw. ----

/** A place where the fault may throw: a user function, a tee destination's write or a generator source. */
interface Site {
  name: string;
  /** The stage's position (-1: the source). */
  position: number;
  /** How many calls the model says it gets, when it can tell. */
  calls: number | undefined;
  count: number;
}

const FAULT_VALUES: Record<FaultValue, () => unknown> = {
  error: () => new Error('fault'),
  undefined: () => undefined,
  null: () => null,
  zero: () => 0,
  empty: () => '',
  false: () => false,
};

class Run {
  settled = false;
  /** User functions called after the pipeline settled. */
  readonly late: string[] = [];
  /** Calls in flight, by the signal they were given. */
  readonly inflight = new Map<AbortSignal, number>();
  readonly sites: Site[] = [];
  readonly faultValue: unknown;
  faultSite: Site | undefined;
  readonly fault: Fault;
  /** Calls so far, of every function; `strike` runs at the one a fault's `when.call` names. */
  calls = 0;
  strike: (() => void) | undefined;

  constructor(fault: Fault) {
    this.fault = fault;
    this.faultValue = fault.type === 'throw' ? FAULT_VALUES[fault.value]() : undefined;
  }

  site(name: string, position: number, calls: number | undefined): Site {
    const site = { name, position, calls, count: 0 };
    this.sites.push(site);
    return site;
  }

  /** A call at `site` starts: true when the fault is to throw now. */
  enter(site: Site, user = true): boolean {
    if (user && this.settled) this.late.push(site.name);
    const when = 'when' in this.fault ? this.fault.when : undefined;
    if (when !== undefined && 'call' in when && this.calls++ === when.call && this.strike !== undefined) {
      if (when.sync) this.strike();
      else queueMicrotask(this.strike);
    }
    const i = site.count++;
    return this.fault.type === 'throw' && this.faultSite === site && i === this.faultAt;
  }

  /** The call the fault throws at: most often one that comes, sometimes one past the last. */
  get faultAt(): number {
    const site = this.faultSite;
    if (this.fault.type !== 'throw' || site === undefined) return -1;
    return site.calls === undefined ? this.fault.at : this.fault.at % (site.calls + 1);
  }

  get faultAsync(): boolean {
    return this.fault.type === 'throw' && this.fault.async;
  }

  /** Runs `body` after the pause `mode` asks for, counting the call as in flight meanwhile. */
  async later<R>(signal: AbortSignal | undefined, mode: Mode, n: number, body: () => R): Promise<R> {
    if (signal !== undefined) this.inflight.set(signal, (this.inflight.get(signal) ?? 0) + 1);
    try {
      if (mode === 'tick') await tick();
      else if (mode === 'timer' && n % 8 === 0) await sleep(1, undefined, { signal });
      else await null;
      return body();
    } finally {
      if (signal !== undefined) this.inflight.set(signal, this.inflight.get(signal)! - 1);
    }
  }

  /** A user function's call: `body` now or later as `mode` says, or the fault. */
  call<R>(site: Site, mode: Mode, signal: AbortSignal | undefined, body: () => R): R | Promise<R> {
    const fail = this.enter(site);
    if (fail && !this.faultAsync) throw this.faultValue;
    if (mode === 'sync' && !fail) return body();
    return this.later(signal, mode, site.count, () => {
      if (fail) throw this.faultValue;
      return body();
    });
  }
}

function mapResult(fn: FnSpec, x: number): unknown {
  switch (fn.kind) {
    case 'add':
      return x + fn.k;
    case 'drop':
      return x % (fn.k + 1) === 0 ? undefined : x;
    case 'dup':
      return many([x, x + fn.k]);
    case 'gen':
      return generate(fn, x);
  }
}

function flatResult(fn: FnSpec, x: number): Iterable<number> | AsyncIterable<number> {
  return fn.kind === 'gen' ? generate(fn, x) : apply(fn, x);
}

function generate(fn: FnSpec, x: number): Iterable<number> | AsyncIterable<number> {
  const n = fn.k % 3;
  if (fn.mode !== 'tick') {
    return (function* () {
      for (let i = 0; i < n; i++) yield x + i;
    })();
  }
  return (async function* () {
    for (let i = 0; i < n; i++) {
      await tick();
      yield x + i;
    }
  })();
}

// Typed `unknown` in: chain() takes lists of functions of any item type only so.
const mapFn =
  (run: Run, site: Site, fn: FnSpec) =>
  (x: unknown, ctx: StageContext): unknown =>
    run.call(site, fn.mode, ctx.signal, () => mapResult(fn, x as number));

interface Built {
  run: Run;
  source: unknown;
  /** What is handed to pipeline() between the source and the sink. */
  stages: Duplex[];
  /** Per stage spec: the stage in `stages` it is in (its chain, when wrapped). */
  targets: Duplex[];
  /** Streams that must be destroyed once the pipeline has settled. */
  streams: (Readable | Writable)[];
  model: Model;
  /** Tee destinations, with the model of what the tee was given and its position. */
  tees: { received: number[]; model: Model; position: number }[];
  /** Positions of take() stages that may end before their upstream does. */
  earlyEnds: number[];
  stageController: AbortController | undefined;
}

function build(c: Case): Built {
  const run = new Run(c.fault);
  const streams: (Readable | Writable)[] = [];
  const tees: Built['tees'] = [];
  const earlyEnds: number[] = [];
  const signalAt = c.fault.type === 'stageSignal' ? c.fault.stage % c.stages.length : -1;
  const stageController = signalAt >= 0 ? new AbortController() : undefined;

  // The source.
  let model: Model = { items: c.items, exact: true, ordered: true, max: c.items.length };
  let source: unknown;
  const generator = (items: number[], name: string, async: boolean): Generator<number> | AsyncGenerator<number> => {
    const site = run.site(name, -1, items.length);
    // A generator's own pulls are not "calls" of a function: an async one parked on an await goes on
    // once the pipeline has let go of it, as Node's pipeline lets it.
    if (!async) {
      return (function* () {
        for (const x of items) {
          if (run.enter(site, false)) throw run.faultValue;
          yield x;
        }
      })();
    }
    return (async function* () {
      for (const [i, x] of items.entries()) {
        if (i % 16 === 15) await tick();
        if (run.enter(site, false)) {
          if (run.faultAsync) await null;
          throw run.faultValue;
        }
        yield x;
      }
    })();
  };
  switch (c.source.type) {
    case 'array':
      source = c.items;
      break;
    case 'syncGen':
      source = generator(c.items, 'source', false);
      break;
    case 'syncGenFn':
      source = () => generator(c.items, 'source', false);
      break;
    case 'asyncGen':
      source = generator(c.items, 'source', true);
      break;
    case 'readable':
      source = Readable.from(c.items, { objectMode: true, highWaterMark: 4 });
      break;
    case 'merge': {
      const { parts, generators } = c.source;
      const split = Array.from({ length: parts }, (_, p) => c.items.filter((_, i) => i % parts === p));
      source = merge(split.map((items, p) => (generators ? generator(items, `merge source ${p}`, p % 2 === 1) : items)));
      if (parts > 1) model = { ...model, ordered: false };
    }
  }
  if (source instanceof Readable) streams.push(source);

  // The stages, each as one or more streams, with the model after each.
  // biome-ignore lint/suspicious/useIterableCallbackReturn: every case of the exhaustive switch below returns.
  const built: Duplex[][] = c.stages.map(({ stage, wrap, highWaterMark }, position) => {
    const calls = (): number | undefined => (model.exact ? model.items.length : undefined);
    const name = `stages[${position}] (${stage.type})`;
    const own = {
      ...(highWaterMark === null ? {} : { highWaterMark }),
      ...(position === signalAt && wrap === 'none' ? { signal: stageController!.signal } : {}),
    };
    // A stage made with no options may be fused by chain() into its neighbours.
    const options = Object.keys(own).length === 0 ? undefined : own;
    switch (stage.type) {
      case 'map': {
        const site = run.site(name, position, calls());
        model = mapped(model, (x) => apply(stage.fn, x), FANOUT[stage.fn.kind], false);
        return [map(mapFn(run, site, stage.fn), options)];
      }
      case 'filter': {
        const site = run.site(name, position, calls());
        const keep = (x: number): boolean => x % (stage.k + 1) !== 0;
        model = mapped(model, (x) => (keep(x) ? [x] : []), 1, false);
        return [filter((x: number, ctx: StageContext) => run.call(site, stage.mode, ctx.signal, () => keep(x)), options)];
      }
      case 'flatMap': {
        const site = run.site(name, position, calls());
        model = mapped(model, (x) => apply(stage.fn, x), FANOUT[stage.fn.kind], false);
        return [flatMap((x: number, ctx: StageContext) => run.call(site, stage.fn.mode, ctx.signal, () => flatResult(stage.fn, x)), options)];
      }
      case 'chain': {
        const fns = stage.fns.map((fn, i) => {
          const site = run.site(`${name} fns[${i}]`, position, calls());
          model = mapped(model, (x) => apply(fn, x), FANOUT[fn.kind], false);
          return mapFn(run, site, fn);
        });
        model = { ...model, ordered: model.ordered && (stage.concurrency === 1 || stage.ordered) };
        return [chain(fns, { concurrency: stage.concurrency, ordered: stage.ordered, ...own })];
      }
      case 'parallel': {
        const site = run.site(name, position, calls());
        model = mapped(model, (x) => apply(stage.fn, x), 1, stage.concurrency > 1 && !stage.ordered);
        return [parallel(mapFn(run, site, stage.fn), { concurrency: stage.concurrency, ordered: stage.ordered, ...own })];
      }
      case 'batch':
        // Flattened again at once, so that every stage after it sees items: the grouping itself has its
        // own laws in properties.test.ts.
        return [batch<number>(stage.size, { ...(stage.maxWait === null ? {} : { maxWait: stage.maxWait }), ...own }), flatMap((b: number[]) => b)];
      case 'take':
        if (!model.exact || model.items.length >= stage.n) earlyEnds.push(position);
        model = taken(model, stage.n);
        return [take(stage.n, options)];
      case 'skip':
        model = skipped(model, stage.n);
        return [skip(stage.n, options)];
      case 'rateLimit':
        return [rateLimit({ rate: 100_000, per: 1000, burst: stage.burst, ...own })];
      case 'tee': {
        const site = run.site(`${name} destination`, position, calls());
        const received: number[] = [];
        tees.push({ received, model, position });
        // A write-only chain, so that its function can fail with a falsy value (a Writable's callback
        // cannot: Node reads a falsy error as success).
        const sink = new Writable({
          objectMode: true,
          highWaterMark: stage.highWaterMark,
          write(_x, _encoding, callback) {
            if (stage.slow) setImmediate(callback);
            else callback();
          },
        });
        const record = (x: unknown, ctx: StageContext): unknown =>
          run.call(site, stage.slow ? 'tick' : 'sync', ctx.signal, () => {
            received.push(x as number);
            return x;
          });
        const destination = chain([record, sink]);
        streams.push(sink, destination);
        return [tee<number>([destination], { passThrough: true, ...own })];
      }
      case 'distribute': {
        const site = run.site(`${name} worker`, position, calls());
        const fn = mapFn(run, site, stage.fn);
        model = mapped(model, (x) => apply(stage.fn, x), FANOUT[stage.fn.kind], stage.n > 1);
        return [
          distribute(
            stage.n,
            () => {
              const worker =
                stage.worker === 'map'
                  ? map(fn)
                  : stage.worker === 'parallel'
                    ? parallel(fn, { concurrency: 2 })
                    : chain([fn, new PassThrough({ objectMode: true })]);
              streams.push(worker);
              return worker;
            },
            options,
          ),
        ];
      }
      case 'through': {
        const site = run.site(name, position, calls());
        const k = stage.k;
        const fanout = stage.form === 'twice' ? 2 : 1;
        model = mapped(model, (x) => (stage.form === 'twice' ? [x, x + k] : [x + k]), fanout, false);
        if (stage.form === 'async') {
          return [through<number, number>(async (x) => run.call(site, 'micro', undefined, () => x + k), undefined, options)];
        }
        const twice = stage.form === 'twice';
        return [
          through<number, number>(
            function (x, _encoding, callback) {
              // Only what is thrown fails the stage: callback(falsy) is success in through2's API.
              if (run.enter(site)) {
                if (run.faultAsync && run.faultValue instanceof Error) {
                  setImmediate(callback, run.faultValue);
                  return;
                }
                throw run.faultValue;
              }
              if (twice) {
                this.push(x);
                callback(null, x + k);
              } else callback(null, x + k);
            },
            undefined,
            options,
          ),
        ];
      }
    }
  });

  // Chains around the stages that ask for one; 'join' adds to the chain before it.
  const stages: Duplex[] = [];
  const targets: Duplex[] = [];
  let open: { members: number[]; pre: boolean } | undefined;
  const groups: { members: number[]; wrapped: boolean; pre: boolean }[] = [];
  c.stages.forEach(({ wrap }, i) => {
    if (wrap === 'join' && open !== undefined) open.members.push(i);
    else if (wrap === 'none') {
      open = undefined;
      groups.push({ members: [i], wrapped: false, pre: false });
    } else {
      open = { members: [i], pre: wrap === 'chainPre' };
      groups.push({ ...open, wrapped: true });
    }
  });
  for (const group of groups) {
    if (!group.wrapped) {
      const alone = built[group.members[0]!]!;
      stages.push(...alone);
      targets.push(alone[0]!);
      continue;
    }
    const inner = group.members.flatMap((i) => built[i]!);
    const signal = group.members.includes(signalAt) ? { signal: stageController!.signal } : {};
    const whole = chain([...(group.pre ? [(x: unknown) => x] : []), ...inner], signal);
    stages.push(whole);
    for (const _ of group.members) targets.push(whole);
  }
  streams.push(...stages);

  if (c.fault.type === 'throw' && run.sites.length > 0) run.faultSite = run.sites[c.fault.site % run.sites.length];
  return { run, source, stages, targets, streams, model, tees, earlyEnds, stageController };
}

// ---- Checking a run. ----

const show = (value: unknown): string =>
  value instanceof Error ? `${value.constructor.name}(${value.message})` : typeof value === 'string' ? JSON.stringify(value) : String(value);
const sorted = (items: readonly number[]): number[] => [...items].sort((a, b) => a - b);

/** Whether `items` fit `model`; else what is wrong. */
function mismatch(items: readonly number[], model: Model, complete: boolean): string | undefined {
  if (model.exact && complete) {
    const [got, want] = model.ordered ? [items, model.items] : [sorted(items), sorted(model.items)];
    return got.join() === want.join() ? undefined : `got [${items.join()}], expected ${model.ordered ? '' : 'a permutation of '}[${model.items.join()}]`;
  }
  if (model.exact && model.ordered) {
    return items.every((x, i) => x === model.items[i]) ? undefined : `got [${items.join()}], expected a prefix of [${model.items.join()}]`;
  }
  if (items.length > model.max) return `got ${items.length} items, expected at most ${model.max}`;
  const left = new Map<number, number>();
  for (const x of model.items) left.set(x, (left.get(x) ?? 0) + 1);
  for (const x of items) {
    const n = left.get(x) ?? 0;
    if (n === 0) return `got [${items.join()}], not a sub-multiset of [${model.items.join()}]`;
    left.set(x, n - 1);
  }
  return undefined;
}

type Outcome = { ok: true } | { ok: false; error: unknown };
/** What the run may end with: success, and/or a rejection that `rejection` accepts. */
interface Expected {
  success: boolean;
  rejection?: { accepts(error: unknown): boolean; what: string };
}

/** How the runs ended, per fault type: printed as a comment, to show what the cases reached. */
const tally = new Map<string, number>();

const rejectsWith = (value: unknown, success = false): Expected => ({
  success,
  rejection: { accepts: (error) => Object.is(error, value), what: show(value) },
});

async function check(c: Case): Promise<void> {
  const leaks = leakCheck();
  const b = build(c);
  const { run } = b;
  const { fault } = c;
  for (const stream of b.streams) leaks.track(stream);
  const controller = fault.type === 'abort' ? new AbortController() : undefined;
  if (controller !== undefined) leaks.track(controller.signal, 'pipeline signal');
  if (b.stageController !== undefined) leaks.track(b.stageController.signal, 'stage signal');
  const reason = new Error('fault');

  // A fault at a random moment: did it strike before the pipeline settled, at a stage still running?
  let struck = false;
  let timer: NodeJS.Timeout | undefined;
  if (fault.type === 'abort' || fault.type === 'destroy' || fault.type === 'stageSignal') {
    const strike = (): void => {
      if (run.settled) return;
      if (fault.type === 'abort') {
        struck = true;
        controller!.abort(reason);
        return;
      }
      const target = b.targets[fault.stage % b.targets.length]!;
      struck = !target.destroyed;
      if (fault.type === 'destroy') target.destroy(reason);
      else b.stageController!.abort(reason);
    };
    if ('ms' in fault.when) timer = setTimeout(strike, fault.when.ms);
    else run.strike = strike;
  }

  const out: number[] = [];
  const options = { ...(controller === undefined ? {} : { signal: controller.signal }), ...(fault.type === 'timeout' ? { timeout: fault.ms } : {}) };
  const running = (pipeline as (...args: unknown[]) => Promise<void>)(
    b.source,
    ...b.stages,
    async (items: AsyncIterable<number>) => {
      for await (const x of items) out.push(x);
    },
    options,
  ).then(
    (): Outcome => {
      run.settled = true;
      return { ok: true };
    },
    (error: unknown): Outcome => {
      run.settled = true;
      return { ok: false, error };
    },
  );
  let outcome: Outcome;
  try {
    outcome = await within(running, 'the pipeline', SETTLE_MS);
  } catch (error) {
    if (!(error instanceof Unsettled)) throw error;
    // Never leave it hanging: the next cases run in this process.
    for (const stream of b.streams) stream.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
  }

  // What this run may end with.
  const site = run.faultSite;
  const earlyAfter = (position: number): boolean => b.earlyEnds.some((p) => p > position);
  let expected: Expected;
  switch (fault.type) {
    case 'none':
      expected = { success: true };
      break;
    case 'throw':
      if (site === undefined || (site.calls !== undefined && run.faultAt >= site.calls)) expected = { success: true };
      else expected = rejectsWith(run.faultValue, site.calls === undefined || earlyAfter(site.position));
      break;
    case 'abort':
      expected = struck ? rejectsWith(reason) : { success: true };
      break;
    case 'timeout':
      expected = {
        success: true,
        rejection: {
          accepts: (e) => e instanceof TimeoutError && e.code === 'ERR_SLUICE_TIMEOUT' && e.timeout === fault.ms,
          what: `a TimeoutError after ${fault.ms} ms`,
        },
      };
      break;
    case 'destroy':
    case 'stageSignal':
      expected = struck ? rejectsWith(reason) : { success: true };
  }

  const ended = `${fault.type}: ${outcome.ok ? 'resolved' : 'rejected'}`;
  tally.set(ended, (tally.get(ended) ?? 0) + 1);
  const problems: string[] = [];
  if (outcome.ok) {
    if (!expected.success) problems.push(`resolved, expected a rejection with ${expected.rejection!.what}`);
    else {
      const wrong = mismatch(out, b.model, true);
      if (wrong !== undefined) problems.push(`output: ${wrong}`);
      for (const { received, model, position } of b.tees) {
        const wrongTee = mismatch(received, model, !earlyAfter(position));
        if (wrongTee !== undefined) problems.push(`the destination of stages[${position}] (tee): ${wrongTee}`);
      }
    }
  } else if (expected.rejection === undefined || !expected.rejection.accepts(outcome.error)) {
    problems.push(`rejected with ${show(outcome.error)}, expected ${expected.rejection === undefined ? 'success' : expected.rejection.what}`);
  }
  for (const [signal, n] of run.inflight) if (n > 0 && !signal.aborted) problems.push(`${n} call(s) still in flight with a signal not aborted`);
  if (run.late.length > 0) problems.push(`called after the pipeline settled: ${run.late.join(', ')}`);
  try {
    await leaks.verify();
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
}

t.test('pipeline() over random stages and one random fault behaves as the model says (property)', async (t) => {
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  const path = process.env.FUZZ_PATH;
  await fc.assert(fc.asyncProperty(caseSpec, check), {
    numRuns: RUNS,
    ...(seed === undefined ? {} : { seed }),
    ...(path === undefined ? {} : { path }),
    // Shrinking a failure can take long when each try hangs for SETTLE_MS: stop it in time and report.
    plugins: [fc.interruptAfterTimeLimit(Math.max(90_000, RUNS * 300))],
  });
  t.pass(`${RUNS} random pipelines`);
  t.comment(
    [...tally]
      .sort()
      .map(([ended, n]) => `${ended} ${n}`)
      .join(', '),
  );
});
