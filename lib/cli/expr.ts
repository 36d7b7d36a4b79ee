// EXPR → function, compiled once. Two forms:
//  - a function: `l => l.trim()`, `async (url, { signal }) => …`, `function* (l) { … }`; it gets the
//    item and the stage's `{ signal, index }`;
//  - an expression of the item, named `line` (and `rec`, which reads better in --json mode), with
//    awk-style fields `$1`, `$2`, … of a string item; `await` in it makes it async.
import type { StageContext } from '../index.js';
import { UsageError } from './errors.js';

export type ItemFn = (item: unknown, ctx: StageContext) => unknown;

export interface Compiled {
  fn: ItemFn;
  /** Compiled as an async function: its calls always return promises (run it in the pool). */
  async: boolean;
}

const AsyncFunction = (async () => {}).constructor as FunctionConstructor;

// `x =>`, `(a, { b }) =>`, `async x =>`, `function`, `async function*`. Parameters with nested
// parentheses (defaults that call something) are not recognised; write those as `function`.
const FUNCTION_FORM = /^\s*(?:async\s+)?(?:function\b|(?:\([^()]*\)|[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*)\s*=>)/u;

// `$9` as an identifier of its own (not `a$9`, `$9a` or `$$9`).
const FIELD = /(?<![\p{ID_Continue}$])\$(\d+)(?![\p{ID_Continue}$])/gu;

/**
 * Compiles the EXPR given to `flag`. A syntax error is a {@link UsageError} naming the flag, the
 * expression and the error.
 */
export function compile(flag: string, source: string): Compiled {
  if (source.trim() === '') throw new UsageError(`${flag} needs an expression, got an empty string`);
  try {
    return FUNCTION_FORM.test(source) ? compileFunction(flag, source) : compileExpression(source);
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    throw new UsageError(`${flag} ${JSON.stringify(source)}: ${err.name}: ${err.message}`);
  }
}

function compileFunction(flag: string, source: string): Compiled {
  // Evaluating a function expression runs none of its code, so this has no side effects.
  const fn: unknown = new Function(`"use strict";\nreturn (\n${source}\n);`)();
  if (typeof fn !== 'function') throw new UsageError(`${flag} ${JSON.stringify(source)}: is not a function`);
  return { fn: fn as ItemFn, async: fn instanceof AsyncFunction };
}

function compileExpression(source: string): Compiled {
  const fields = [...new Set(Array.from(source.matchAll(FIELD), (m) => Number(m[1])))];
  const prelude = fields.map((n) => `const $${n} = typeof line === 'string' ? __field(line, ${n}) : undefined;\n`).join('');
  // The expression on lines of its own, so that a trailing `// comment` cannot swallow the `)`.
  const body = `return function (line) {\nconst rec = line;\n${prelude}return (\n${source}\n);\n};`;
  let isAsync = false;
  let factory: (fieldFn: typeof field) => ItemFn;
  try {
    factory = new Function('__field', `"use strict";\n${body}`) as typeof factory;
  } catch (err) {
    // `await` is a syntax error in a plain function: try again as an async one.
    try {
      factory = new Function('__field', `"use strict";\n${body.replace('return function', 'return async function')}`) as typeof factory;
      isAsync = true;
    } catch (asyncErr) {
      // Report the error that the user's intent makes relevant.
      throw /\bawait\b/.test(source) ? asyncErr : err;
    }
  }
  return { fn: factory(field), async: isAsync };
}

/**
 * The `n`th field of `line` as awk splits it (runs of blanks separate fields, leading blanks are
 * ignored), `''` past the last one; `$0` is the whole line.
 */
export function field(line: string, n: number): string {
  if (n === 0) return line;
  const len = line.length;
  // Fast path: separators found with `indexOf` (about 2x a per-character loop, and a regex), on the
  // assumption that there are no tabs before the field, which one more `indexOf` then checks.
  let start = 0;
  for (let k = 1; ; k++) {
    while (line.charCodeAt(start) === 32) start++;
    if (start >= len) return line.indexOf('\t') === -1 ? '' : blankField(line, n);
    let end = line.indexOf(' ', start);
    if (end === -1) end = len;
    if (k === n) {
      const tab = line.indexOf('\t');
      return tab === -1 || tab > end ? line.slice(start, end) : blankField(line, n);
    }
    start = end;
  }
}

/** {@link field} for lines with tabs. */
function blankField(line: string, n: number): string {
  const len = line.length;
  let i = 0;
  for (let k = 1; ; k++) {
    while (i < len && isBlank(line.charCodeAt(i))) i++;
    if (i >= len) return '';
    const start = i;
    while (i < len && !isBlank(line.charCodeAt(i))) i++;
    if (k === n) return line.slice(start, i);
  }
}

function isBlank(code: number): boolean {
  return code === 32 || code === 9;
}
