// EXPR → function, compiled once. Two forms:
//  - a function: `l => l.trim()`, `async (url, { signal }) => …`, `function* (l) { … }`; it gets the
//    item and the stage's `{ signal, index, line }`;
//  - an expression of the item, named `line` (and `rec`), with awk's fields `$1`, `$2`, …, `$NF`,
//    `$(n)`, and `NF`, `NR`, `FNR`, `FILENAME`; `await` in it makes it async.
// Every EXPR of a run is compiled in one scope, so that variables assigned in --begin and the values
// of --arg are shared by all of them.
import { Script } from 'node:vm';
import type { StageContext } from '../index.js';
import { UsageError } from './errors.js';
import type { Fields } from './fields.js';

export type ItemFn = (item: unknown, ctx: StageContext) => unknown;

export interface Compiled {
  fn: ItemFn;
  /** Its calls return promises (an async function or async generator): worth running in parallel. */
  async: boolean;
}

/** What expressions see of the run: where the current input is, and its fields. */
export interface Scope {
  fields: Fields;
  /** The current input's name (`FILENAME`). */
  file: string;
  /** Lines of the inputs before the current one (`NR` = `before + FNR`). */
  before: number;
}

export interface Source {
  flag: string;
  source: string;
}

export interface Program {
  fns: Compiled[];
  /** --begin: run once before any input. */
  begin: (() => unknown) | undefined;
  /** --end: run once after the input; its value is printed. */
  end: (() => unknown) | undefined;
}

const AsyncFunction = (async () => {}).constructor as FunctionConstructor;
const AsyncGeneratorFunction = async function* () {}.constructor as FunctionConstructor;

// `x =>`, `(a, { b }) =>`, `async x =>`, `function`, `async function*`. Parameters with nested
// parentheses (defaults that call something) are not recognised; write those as `function`.
const FUNCTION_FORM = /^\s*(?:async\s+)?(?:function\b|(?:\([^()]*\)|[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*)\s*=>)/u;

// `$9` and `$NF` as identifiers of their own (not `a$9`, `$9a` or `$$9`).
const FIELD = /(?<![\p{ID_Continue}$])\$(\d+|NF)(?![\p{ID_Continue}$])/gu;
const uses = (source: string, name: string): boolean =>
  new RegExp(`(?<![\\p{ID_Continue}$.])${name.replace('$', '\\$')}(?![\\p{ID_Continue}$])`, 'u').test(source);
// A top-level `name =` (or `+=`…) in --begin declares a variable shared by every EXPR.
const ASSIGNED = /(?<![\p{ID_Continue}$.])([\p{ID_Start}$_][\p{ID_Continue}$]*)\s*(?:[-+*/%]|\*\*|\?\?|\|\||&&)?=(?![=>])/gu;
const RESERVED = new Set(['line', 'rec', 'NR', 'FNR', 'NF', 'FILENAME', '$', '__c', '__s', '__f', '__args']);
export const IDENTIFIER = /^[\p{ID_Start}$_][\p{ID_Continue}$]*$/u;

/**
 * Compiles the EXPRs of a run in one scope. A syntax error is a {@link UsageError} naming the flag and
 * the expression, and pointing at the place in the user's text.
 */
export function compileAll(exprs: readonly Source[], opts: { begin?: string; end?: string; args: Record<string, string>; scope: Scope }): Program {
  for (const name of Object.keys(opts.args)) {
    if (!IDENTIFIER.test(name) || RESERVED.has(name)) throw new UsageError(`--arg ${JSON.stringify(name)}: not a name an expression can use`);
  }
  const shared =
    opts.begin === undefined ? [] : [...new Set(Array.from(opts.begin.matchAll(ASSIGNED), (m) => m[1]!))].filter((n) => !RESERVED.has(n) && !(n in opts.args));
  const parts = exprs.map(({ flag, source }) => part(flag, source));
  const begin = opts.begin === undefined ? undefined : statement('--begin', opts.begin);
  const end = opts.end === undefined ? undefined : statement('--end', opts.end);
  const body = [
    '"use strict";',
    ...Object.keys(opts.args).map((name) => `const ${name} = __args[${JSON.stringify(name)}];`),
    shared.length > 0 ? `let ${shared.join(', ')};` : '',
    `return [${parts.map((p) => p.code).join(',\n')}, ${begin ?? 'undefined'}, ${end ?? 'undefined'}];`,
  ].join('\n');
  let made: unknown[];
  try {
    made = (new Function('__s', '__args', '__fn', body) as (scope: Scope, args: Record<string, string>, fn: typeof notAFunction) => unknown[])(
      opts.scope,
      opts.args,
      notAFunction,
    );
  } catch (err) {
    // Each part compiled alone; together they can still clash (a function form naming an --arg).
    throw new UsageError(`the expressions do not compile together: ${(err as Error).name}: ${(err as Error).message}`);
  }
  return {
    fns: parts.map((p, i) => ({ fn: made[i] as ItemFn, async: p.async || made[i] instanceof AsyncFunction || made[i] instanceof AsyncGeneratorFunction })),
    begin: made[parts.length] as (() => unknown) | undefined,
    end: made[parts.length + 1] as (() => unknown) | undefined,
  };
}

/** One EXPR as code for the shared scope, checked alone first so that an error names its flag. */
function part(flag: string, source: string): { code: string; async: boolean } {
  if (source.trim() === '') throw new UsageError(`${flag} needs an expression, got an empty string`);
  if (FUNCTION_FORM.test(source)) {
    check(flag, source, `(${source}\n)`);
    return { code: `(${source}\n)`, async: false };
  }
  const body = `const rec = line;\n${prelude(source)}const __v = (\n${source}\n);\nif (typeof __v === 'function') __fn(${JSON.stringify(flag)});\nreturn __v;`;
  for (const async of [false, true]) {
    const code = `${async ? 'async ' : ''}function (line, __c = undefined) {\n${body}\n}`;
    try {
      new Function('__s', '__fn', `"use strict"; return ${code};`);
      return { code, async };
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      // `await` is a syntax error in a plain function: try again as an async one.
      if (async || !/\bawait\b/.test(source)) break;
    }
  }
  check(flag, source, `(${source}\n)`);
  // Valid alone but not in the function around it (a `return` or `yield` at top level, say).
  throw new UsageError(`${flag} ${JSON.stringify(source)}: SyntaxError: not an expression`);
}

/** --begin and --end: an expression run once, in the same scope. */
function statement(flag: string, source: string): string {
  if (source.trim() === '') throw new UsageError(`${flag} needs an expression, got an empty string`);
  check(flag, source, `(${source}\n)`);
  return `() => (\n${source}\n)`;
}

/** Throws a UsageError pointing at the place in `source` where `code` (source in parentheses) does not parse. */
function check(flag: string, source: string, code: string): void {
  try {
    new Script(code, { filename: flag });
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    // The stack begins `flag:LINE`, the code line, then a caret under the place.
    const [where = '', , caret = ''] = (err.stack ?? '').split('\n');
    const onFirstLine = where.endsWith(':1') && caret.includes('^');
    // Past the first line is the parenthesis closing the user's text: it ended too early.
    const message = onFirstLine ? `${err.message}\n  ${source}\n  ${' '.repeat(Math.max(0, caret.indexOf('^') - 1))}^` : 'the expression ends too early';
    throw new UsageError(`${flag} ${JSON.stringify(source)}: SyntaxError: ${message}`);
  }
  try {
    // Evaluating a function expression runs none of its code; anything else here is a ReferenceError
    // or the like of the expression around it (`x => x, nope`), which is the user's mistake too.
    if (FUNCTION_FORM.test(source)) {
      const fn: unknown = new Function(`"use strict"; return ${code};`)();
      if (typeof fn !== 'function') throw new TypeError('is not a function');
    }
  } catch (err) {
    throw new UsageError(`${flag} ${JSON.stringify(source)}: ${(err as Error).name}: ${(err as Error).message}`);
  }
}

/** The awk variables an expression uses, computed per call from its line, the context and the scope. */
function prelude(source: string): string {
  const fields = [...new Set(Array.from(source.matchAll(FIELD), (m) => m[1]!))];
  const out: string[] = [];
  if (fields.length > 0 || uses(source, 'NF') || uses(source, '$')) out.push('const __f = __s.fields;');
  for (const n of fields) out.push(`const $${n} = __f.${n === 'NF' ? 'last' : 'field'}(line${n === 'NF' ? '' : `, ${n}`});`);
  if (uses(source, 'NF')) out.push('const NF = __f.count(line);');
  if (uses(source, '$')) out.push('const $ = (n) => __f.field(line, n);');
  if (uses(source, 'FNR') || uses(source, 'NR')) out.push('const FNR = __c === undefined ? undefined : __c.line;');
  if (uses(source, 'NR')) out.push('const NR = FNR === undefined ? undefined : __s.before + FNR;');
  if (uses(source, 'FILENAME')) out.push('const FILENAME = __s.file;');
  return out.map((l) => `${l}\n`).join('');
}

function notAFunction(flag: string): never {
  throw new TypeError(`${flag}: the expression gave a function; to have it called, write it as \`l => …\` or \`function (l) { … }\``);
}
