import type { Quick, StageContext, StepFn } from './steps.js';
import { SLOW } from './steps.js';

type Pending = Promise<void> | undefined;

/** Whether stages generate their synchronous path as code (see {@link fuse}). Tests and bench/ turn it off to run the loop. */
export const codegen = { enabled: true };

/** The steps of one stage, unpacked into parallel arrays. */
export interface FusedSteps<L> {
  fns: readonly StepFn[];
  rules: readonly Quick[];
  /** Per step: a context object reused for a function that declares no second parameter, else undefined. */
  shared: readonly (StageContext | undefined)[];
  /** Per step: calls so far (the next `ctx.index`). */
  counts: number[];
  /** Holds the signal functions get (a thread worker swaps it per batch). */
  box: { signal: AbortSignal };
  /** Set `ctx.line` from the lane (functions fused into a split). */
  located: boolean;
  /** Step `at` gave something its quick rule cannot settle: the engine's general path takes over. */
  slow(at: number, result: unknown, input: unknown, lane: L): Pending;
  /** The last step's value, to be passed on. */
  emit(value: unknown, lane: L): Pending;
}

/**
 * Writes the synchronous path through the steps as one straight-line function, with one call site
 * per step and per rule. V8 then sees each call site call one function only and can inline it, as it
 * does in a hand-written `f5(f4(f3(f2(f1(x)))))`; a loop over the steps has a single call site that
 * sees them all and inlines none. The rules themselves are not in the text: each step calls its
 * kind's function from steps.ts, so the loop and this path cannot disagree. Returns `undefined` when
 * turned off or where code cannot be generated from strings (Node's
 * `--disallow-code-generation-from-strings`): the engine then runs its loop.
 */
export function fuse<L extends { line: number | undefined; offset?: number }>(s: FusedSteps<L>): ((value: unknown, lane: L) => Pending) | undefined {
  if (!codegen.enabled) return undefined;
  const body = ['if (v === undefined || v === null) return undefined;', 'let r, n, c;'];
  for (let i = 0; i < s.fns.length; i++) {
    body.push(
      s.shared[i] === undefined
        ? `c = { signal: box.signal, index: counts[${i}]++${s.located ? ', line: lane.line, offset: lane.offset' : ''} };`
        : `c = s${i}; c.index = counts[${i}]++;`,
      s.located && s.shared[i] !== undefined ? 'c.line = lane.line; c.offset = lane.offset;' : '',
      `r = f${i}(v, c);`,
      `n = k${i}(r, v);`,
      `if (n === SLOW) return slow(${i}, r, v, lane);`,
      'if (n === undefined) return undefined;',
      'v = n;',
    );
  }
  body.push('return emit(v, lane);');
  const indices = s.fns.map((_, i) => i);
  const names = [...indices.map((i) => `f${i}`), ...indices.map((i) => `k${i}`), ...indices.map((i) => `s${i}`), 'counts', 'box', 'SLOW', 'slow', 'emit'];
  let factory: (...args: unknown[]) => (value: unknown, lane: L) => Pending;
  try {
    factory = new Function(...names, `return function fused(v, lane) {\n${body.filter(Boolean).join('\n')}\n};`) as typeof factory;
  } catch {
    return undefined;
  }
  return factory(...s.fns, ...s.rules, ...s.shared, s.counts, s.box, SLOW, s.slow, s.emit);
}
