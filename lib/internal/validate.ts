import { MAX_DELAY } from './timers.js';

// Argument checks run when a stage is created. Messages name the option's full path and echo the value:
//   RangeError: parallel(): options.concurrency must be an integer >= 1, got 0 (number)

/** The value as error messages echo it: `0 (number)`, `"x" (string)`, `null`, `Array (object)`. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `${JSON.stringify(value)} (string)`;
  if (typeof value === 'function') return `a function`;
  if (value === null) return 'null';
  if (typeof value === 'object') return `${(value as { constructor?: { name?: string } }).constructor?.name || 'Object'} (object)`;
  return `${String(value)} (${typeof value})`;
}

function fail(Kind: typeof TypeError | typeof RangeError, where: string, name: string, must: string, value: unknown): never {
  throw new Kind(`${where}: ${name} must be ${must}, got ${describe(value)}`);
}

/** Throws `TypeError: <where>: <name> must be <must>, got <value>`. */
export function invalid(where: string, name: string, must: string, value: unknown): never {
  fail(TypeError, where, name, must, value);
}

/** `value` is an integer >= min (Infinity allowed when `allowInfinity`). */
export function integer(where: string, name: string, value: unknown, min: number, allowInfinity = false): number {
  if (typeof value !== 'number') fail(TypeError, where, name, `an integer >= ${min}`, value);
  if (allowInfinity && value === Infinity) return value;
  if (!Number.isInteger(value) || value < min) {
    fail(RangeError, where, name, `an integer >= ${min}${allowInfinity ? ' or Infinity' : ''}`, value);
  }
  return value;
}

/** `value` is a finite number >= min (or > min when `exclusive`). */
export function number(where: string, name: string, value: unknown, min: number, exclusive = false): number {
  const must = `a finite number ${exclusive ? '>' : '>='} ${min}`;
  if (typeof value !== 'number') fail(TypeError, where, name, must, value);
  if (!Number.isFinite(value) || (exclusive ? value <= min : value < min)) fail(RangeError, where, name, must, value);
  return value;
}

/** `value` is a delay in milliseconds that `setTimeout` keeps: a finite number > 0 (>= 0 when `zero`), at most 2^31 - 1. */
export function delay(where: string, name: string, value: unknown, zero = false): number {
  const must = `a number of milliseconds ${zero ? '>=' : '>'} 0 and <= ${MAX_DELAY}`;
  if (typeof value !== 'number') fail(TypeError, where, name, must, value);
  if (!(zero ? value >= 0 : value > 0) || value > MAX_DELAY) fail(RangeError, where, name, must, value);
  return value;
}

export function func<F extends (...args: never[]) => unknown>(where: string, name: string, value: unknown): F {
  if (typeof value !== 'function') fail(TypeError, where, name, 'a function', value);
  return value as F;
}

export function string(where: string, name: string, value: unknown): string {
  if (typeof value !== 'string') fail(TypeError, where, name, 'a string', value);
  return value;
}

export function boolean(where: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') fail(TypeError, where, name, 'a boolean', value);
  return value;
}

export function oneOf<T extends string>(where: string, name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    fail(TypeError, where, name, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, value);
  }
  return value as T;
}

export function signal(where: string, name: string, value: unknown): AbortSignal {
  if (!(value instanceof AbortSignal)) fail(TypeError, where, name, 'an AbortSignal', value);
  return value;
}

/**
 * The options argument itself: undefined becomes `{}`, anything else but a plain object is refused,
 * and so is a key that is not in `known` (a misspelled option would otherwise be silently ignored):
 * `TypeError: split(): options.seperator is not an option (did you mean "separator"?)`.
 */
export function options<T extends object>(where: string, value: T | undefined, name = 'options', known?: readonly string[]): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(TypeError, where, name, 'an object', value);
  if (known !== undefined) {
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      const near = nearest(key, known);
      throw new TypeError(
        `${where}: ${name}.${key} is not an option${near === undefined ? `; the options are ${known.join(', ')}` : ` (did you mean "${near}"?)`}`,
      );
    }
  }
  return value;
}

/** The known name closest to `key` (case aside, or at most two edits away), if one is. */
function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = candidate.toLowerCase() === key.toLowerCase() ? 0 : distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** The options every stage takes (see stage-options.ts). */
export const STAGE_KEYS = ['highWaterMark', 'readableHighWaterMark', 'writableHighWaterMark', 'signal', 'name'] as const;
