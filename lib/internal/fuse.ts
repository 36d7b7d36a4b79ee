import type { StageContext, StepFn, StepKind } from './engine.js';

type Pending = Promise<void> | undefined;

export interface FuseHooks {
  /** Step `at` gave something other than one plain value (a promise, `many()`, a generator, an iterable). */
  slow(at: number, result: unknown, input: unknown): Pending;
  /** The last step's value, to be pushed. */
  emit(value: unknown): undefined;
  /** Whether an object result is just a value (see engine.ts). */
  plain(value: object): boolean;
}

/**
 * Writes the synchronous path through `fns` as one straight-line function, with one call site per
 * step. V8 then sees each call site call one function only and can inline it, as it does in a
 * hand-written `f5(f4(f3(f2(f1(x)))))`; a loop over the steps has a single call site that sees them
 * all and inlines none. Anything that is not a plain synchronous value leaves through `hooks.slow`,
 * to the general path. Returns `undefined` where code cannot be generated from strings (Node's
 * `--disallow-code-generation-from-strings`): the engine then runs its loop.
 */
export function fuse(
  fns: readonly StepFn[],
  kinds: readonly StepKind[],
  shared: readonly (StageContext | undefined)[],
  counts: number[],
  signal: AbortSignal,
  hooks: FuseHooks,
): ((value: unknown) => Pending) | undefined {
  const body = ['if (v === undefined || v === null) return undefined;', 'let r, c;'];
  let last = 'return emit(v);';
  for (let i = 0; i < kinds.length; i++) {
    body.push(shared[i] === undefined ? `c = { signal, index: counts[${i}]++ };` : `c = s${i}; c.index = counts[${i}]++;`);
    body.push(`r = f${i}(v, c);`);
    if (kinds[i] === 'flatMap') {
      // Its items go on one at a time, through the general path.
      last = `return slow(${i}, r, v);`;
      break;
    }
    if (kinds[i] === 'map') {
      body.push(
        'if (r === undefined || r === null) return undefined;',
        `if (typeof r === 'object' && !plain(r)) return slow(${i}, r, v);`,
        'v = r;',
      );
    } else {
      body.push(`if (typeof r === 'object' && r !== null && typeof r.then === 'function') return slow(${i}, r, v);`, 'if (!r) return undefined;');
    }
  }
  body.push(last);
  const names = [...fns.map((_, i) => `f${i}`), ...shared.map((_, i) => `s${i}`), 'counts', 'signal', 'slow', 'emit', 'plain'];
  let factory: (...args: unknown[]) => (value: unknown) => Pending;
  try {
    factory = new Function(...names, `return function fused(v) {\n${body.join('\n')}\n};`) as typeof factory;
  } catch {
    return undefined;
  }
  return factory(...fns, ...shared, counts, signal, hooks.slow, hooks.emit, hooks.plain);
}
