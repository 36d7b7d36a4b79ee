// The command line: `sluice [options] [FILE...]`, parsed strictly, with the stage flags kept in the
// order they were given (from parseArgs' tokens).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';
import { isRedisTarget, parseRedisTarget, redisInputOptions, type RedisInputOptions, type RedisTarget } from './redis-target.js';

/** One stage, in command-line order. */
export type StageSpec =
  | { kind: 'map' | 'filter' | 'flat-map'; flag: string; source: string }
  | { kind: 'batch'; size: number }
  | { kind: 'rate'; rate: number; per: number }
  | { kind: 'take'; n: number }
  | { kind: 'buffer'; size: number };

/** How output items become text: strings as they are and other values as JSON (text), all JSON, or CSV/TSV rows. */
export type OutputFormat = 'text' | 'json' | 'csv' | 'tsv';

export interface CliOptions {
  stages: StageSpec[];
  /** Input files in order; `-` is stdin. Empty: stdin. */
  files: string[];
  /** How input is read: lines, NDJSON records, or CSV/TSV records. */
  input: 'lines' | 'json' | 'csv' | 'tsv';
  /** CSV/TSV: the first record names the columns (records are objects); false: records are arrays. */
  header: boolean;
  output: OutputFormat;
  /** -F: what separates awk's fields. */
  fieldSeparator: string | undefined;
  /** --arg NAME=VALUE: values expressions see as variables. */
  args: Record<string, string>;
  begin: string | undefined;
  end: string | undefined;
  /** Lines (records) to skip at the start of each input. */
  skip: number;
  /** Read binary input as text instead of refusing it. */
  text: boolean;
  /** Worker pool size for async stages (`'auto'`: adaptive); undefined runs them one at a time. */
  parallel: number | 'auto' | undefined;
  /** --partition-by: the key whose items keep their order while --parallel keys run at once. */
  partitionBy: string | undefined;
  /** --drop: what a full --buffer drops; undefined: it holds the producer back. */
  drop: 'oldest' | 'newest' | undefined;
  /** Threads running the per-line stages (1: the main thread alone). */
  threads: number;
  unordered: boolean;
  countBy: string | undefined;
  top: number | undefined;
  stats: boolean;
  statsJson: boolean;
  skipErrors: boolean;
  outFile: string | undefined;
  inPlace: boolean;
  /** --from: the Redis stream read instead of FILEs. */
  from: RedisTarget | undefined;
  /** --to: the Redis stream written instead of stdout. */
  to: RedisTarget | undefined;
  /** With --from: --group, --consumer, --follow, --start, --claim-idle, --max-deliveries, --dead-letter. */
  redis: RedisInputOptions | undefined;
  quiet: boolean;
  help: boolean;
  version: boolean;
}

export const OPTIONS = {
  map: { type: 'string', multiple: true },
  filter: { type: 'string', multiple: true },
  'flat-map': { type: 'string', multiple: true },
  batch: { type: 'string', multiple: true },
  rate: { type: 'string', multiple: true },
  take: { type: 'string', multiple: true },
  buffer: { type: 'string', multiple: true },
  drop: { type: 'string' },
  'partition-by': { type: 'string' },
  json: { type: 'boolean' },
  csv: { type: 'boolean' },
  tsv: { type: 'boolean' },
  'no-header': { type: 'boolean' },
  'to-json': { type: 'boolean' },
  'to-csv': { type: 'boolean' },
  'to-tsv': { type: 'boolean' },
  'field-separator': { type: 'string', short: 'F' },
  arg: { type: 'string', short: 'v', multiple: true },
  begin: { type: 'string' },
  end: { type: 'string' },
  skip: { type: 'string' },
  text: { type: 'boolean', short: 'a' },
  parallel: { type: 'string' },
  threads: { type: 'string', short: 'j' },
  unordered: { type: 'boolean' },
  'count-by': { type: 'string' },
  top: { type: 'string' },
  stats: { type: 'boolean' },
  'stats-json': { type: 'boolean' },
  'skip-errors': { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  'in-place': { type: 'boolean', short: 'i' },
  from: { type: 'string' },
  to: { type: 'string' },
  group: { type: 'string' },
  consumer: { type: 'string' },
  follow: { type: 'boolean' },
  start: { type: 'string' },
  'claim-idle': { type: 'string' },
  'max-deliveries': { type: 'string' },
  'dead-letter': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

/** util.parseArgs, strict, with the tokens (the stages' order); its errors as UsageErrors. */
function parse(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    // parseArgs' messages are good; drop its advice about `--` when it does not apply.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, ''));
  }
}

/** Parses `argv` (without `node` and the script). Throws a {@link UsageError} on any mistake. */
export function parseCli(argv: readonly string[]): CliOptions {
  const { values, positionals, tokens } = parse(argv);
  const stages: StageSpec[] = [];
  for (const token of tokens) {
    if (token.kind !== 'option' || token.value === undefined) continue;
    const flag = `--${token.name}`;
    const value = token.value;
    switch (token.name) {
      case 'map':
      case 'filter':
      case 'flat-map':
        stages.push({ kind: token.name, flag, source: value });
        break;
      case 'batch':
        stages.push({ kind: 'batch', size: integer(flag, value, 1) });
        break;
      case 'take':
        stages.push({ kind: 'take', n: integer(flag, value, 0) });
        break;
      case 'rate':
        stages.push({ kind: 'rate', ...rate(value) });
        break;
      case 'buffer':
        stages.push({ kind: 'buffer', size: integer(flag, value, 1) });
        break;
    }
  }
  const inputs = (['json', 'csv', 'tsv'] as const).filter((name) => values[name] === true);
  if (inputs.length > 1) throw new UsageError(`--${inputs[0]} and --${inputs[1]} cannot be used together`);
  const outputs = (['to-json', 'to-csv', 'to-tsv'] as const).filter((name) => values[name] === true);
  if (outputs.length > 1) throw new UsageError(`--${outputs[0]} and --${outputs[1]} cannot be used together`);
  const options: CliOptions = {
    stages,
    files: positionals,
    input: inputs[0] ?? 'lines',
    header: !(values['no-header'] ?? false),
    output: outputs[0] === undefined ? 'text' : (outputs[0].slice(3) as OutputFormat),
    fieldSeparator: values['field-separator'],
    args: Object.fromEntries((values.arg ?? []).map(assignment)),
    begin: values.begin,
    end: values.end,
    skip: values.skip === undefined ? 0 : integer('--skip', values.skip, 0),
    text: values.text ?? false,
    parallel:
      values.parallel === undefined
        ? undefined
        : values.parallel.trim() === 'auto'
          ? 'auto'
          : integer('--parallel', values.parallel, 1, "an integer >= 1 or 'auto'"),
    partitionBy: values['partition-by'],
    drop: values.drop === undefined ? undefined : drop(values.drop),
    threads:
      values.threads === undefined ? 1 : values.threads.trim() === 'auto' ? Math.max(1, availableParallelism()) : integer('--threads', values.threads, 1),
    unordered: values.unordered ?? false,
    countBy: values['count-by'],
    top: values.top === undefined ? undefined : integer('--top', values.top, 1),
    stats: values.stats ?? false,
    statsJson: values['stats-json'] ?? false,
    skipErrors: values['skip-errors'] ?? false,
    outFile: values.output,
    inPlace: values['in-place'] ?? false,
    from: values.from === undefined ? undefined : redisTarget('--from', values.from),
    to: values.to === undefined ? undefined : redisTarget('--to', values.to),
    redis: undefined,
    quiet: values.quiet ?? false,
    help: values.help ?? false,
    version: values.version ?? false,
  };
  checkCombinations(options);
  const redisFlags = REDIS_INPUT.filter((name) => values[name] !== undefined);
  if (options.from === undefined) {
    if (redisFlags.length > 0) throw new UsageError(`--${redisFlags[0]!} needs --from redis://…`);
  } else options.redis = redisInputOptions(values);
  return options;
}

/** The flags of a Redis input (redisInputOptions checks them). */
const REDIS_INPUT = ['group', 'consumer', 'follow', 'start', 'claim-idle', 'max-deliveries', 'dead-letter'] as const;

function redisTarget(flag: '--from' | '--to', text: string): RedisTarget {
  if (!isRedisTarget(text)) {
    const instead = flag === '--from' ? 'files are read as FILE arguments' : 'write a file with -o FILE';
    throw new UsageError(`${flag} ${JSON.stringify(text)}: not a Redis stream (${instead}); expected redis://HOST:PORT[/DB]/STREAM`);
  }
  return parseRedisTarget(flag, text);
}

function checkCombinations(o: CliOptions): void {
  if (o.unordered && o.parallel === undefined) throw new UsageError('--unordered needs --parallel N');
  if (o.drop !== undefined && !o.stages.some((s) => s.kind === 'buffer')) throw new UsageError('--drop needs --buffer N');
  if (o.partitionBy !== undefined) {
    if (typeof o.parallel !== 'number') throw new UsageError('--partition-by needs --parallel N (how many keys run at once)');
    if (o.unordered) throw new UsageError('--partition-by keeps the order within each key and merges keys as they come: --unordered has nothing to do');
    if (o.input === 'csv' || o.input === 'tsv') throw new UsageError(`--partition-by with --${o.input} is not supported: use --json or lines`);
    if (o.threads > 1) throw new UsageError('--partition-by runs on the main thread: use --threads 1');
  }
  if (o.parallel === 'auto' && o.threads > 1)
    throw new UsageError('--parallel auto adapts async stages on the main thread: with --threads, give --parallel a number');
  if (o.top !== undefined && o.countBy === undefined) throw new UsageError('--top needs --count-by EXPR');
  if (!o.header && o.input !== 'csv' && o.input !== 'tsv') throw new UsageError('--no-header needs --csv or --tsv');
  if (o.threads > 1) {
    if (o.begin !== undefined || o.end !== undefined)
      throw new UsageError('--begin and --end share variables between lines, which threads cannot: use --threads 1');
    if (o.input === 'csv' || o.input === 'tsv') throw new UsageError(`--threads with --${o.input} is not supported (a record may span lines): use --threads 1`);
  }
  if (o.fieldSeparator === '') throw new UsageError('--field-separator needs a separator');
  if (o.outFile === '') throw new UsageError('--output needs a file name');
  if (o.from !== undefined) {
    if (o.files.length > 0) throw new UsageError(`--from reads a Redis stream instead of FILEs: got ${JSON.stringify(o.files[0])} too`);
    if (o.inPlace) throw new UsageError('--from and --in-place cannot be used together: a Redis stream is not rewritten');
    if (o.input === 'csv' || o.input === 'tsv')
      throw new UsageError(`--from with --${o.input} is not supported (a record may span entries): use --json or lines`);
  }
  if (o.to !== undefined) {
    if (o.outFile !== undefined) throw new UsageError('--to and --output cannot be used together');
    if (o.inPlace) throw new UsageError('--to and --in-place cannot be used together');
    if (o.output === 'csv' || o.output === 'tsv')
      throw new UsageError(`--to with --to-${o.output} is not supported (each item is an entry: the header would be the first entry's): use --to-json`);
  }
  if (o.inPlace) {
    if (o.outFile !== undefined) throw new UsageError('--in-place and --output cannot be used together');
    if (o.countBy !== undefined) throw new UsageError('--in-place and --count-by cannot be used together');
    if (o.files.length === 0 || o.files.includes('-')) throw new UsageError('--in-place needs files to rewrite (not stdin)');
  }
}

/** `NAME=VALUE` of --arg. */
function assignment(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--arg must look like NAME=VALUE, got ${JSON.stringify(text)}`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

function integer(flag: string, text: string, min: number, must = `an integer >= ${min}`): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} must be ${must}, got ${JSON.stringify(text)}`);
  return n;
}

function drop(text: string): 'oldest' | 'newest' {
  const policy = text.trim();
  if (policy !== 'oldest' && policy !== 'newest') throw new UsageError(`--drop must be oldest or newest, got ${JSON.stringify(text)}`);
  return policy;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, hour: 3_600_000 };

/** `10/s`, `600/min`, `2.5/s`, `5/h`, or a bare number (per second). */
function rate(text: string): { rate: number; per: number } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*([a-z]+))?\s*$/i.exec(text);
  const n = m === null ? NaN : Number(m[1]);
  const per = m === null ? undefined : UNITS[(m[2] ?? 's').toLowerCase()];
  if (!(n > 0) || per === undefined) {
    throw new UsageError(`--rate must look like 10/s, 600/min or 5/h (a number > 0 per s, min or h), got ${JSON.stringify(text)}`);
  }
  return { rate: n, per };
}

/** The package's version, from package.json (two folders up from both lib/cli and dist/cli). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
