/**
 * sluice benchmarks: sluice's stages and their peers, side by side, measured in the same run.
 *
 *     npm run bench                               build, then every scenario at full size (long: tens of minutes)
 *     npm run bench -- --quick                    every scenario on small inputs, one round: a smoke test (CI)
 *     npm run bench -- split cli --size 256MiB    some scenarios, smaller logs
 *     node --import tsx bench/run.ts chain        without the build step (dist/ must be built)
 *
 * Scenarios (one file each in bench/; harness.ts describes their shape):
 *     split          a generated access log into lines: sluice split() vs split2, readline, raw reads
 *     chain          objects through 5 sync functions: sluice chain() vs stream-chain, through2, Transform, …
 *     parallel       a 1 ms async task per item, concurrency 16 and 64: sluice parallel() vs peers and a promise pool
 *     adaptive       a localhost service of unknown capacity (20 at once, then 10): concurrency 'auto' vs fixed
 *     partition      100 keys, a 1 ms async task per item, 16 keys at a time, in order per key: vs parallel() unordered
 *     threads        a CPU-bound function: sluice threads() vs map() on one thread, two processes on halves, piscina
 *     slow-consumer  split → parallel → tee into a slow consumer: RSS slope and peak, vs split2
 *     buffer         a producer 10x faster than its consumer: buffer(1024, drop-oldest) vs backpressure alone; RSS slope
 *     cli            status counts and error paths of the log: sluice (--threads 1 and 2) vs mawk, a readline
 *                    script and two one-thread sluice processes on the log's halves
 *     redis          Redis Streams: consume+ack and XADD vs hand-written loops, XADD→sink latency, RSS under a backlog
 *
 * Options:
 *     --quick           16 MiB logs, 100k objects, 2,000 tasks, 2,000 hashes, 2 s slow-consumer runs, 1 round
 *     --rounds N        rounds per case (default 5; --quick 1)
 *     --size SIZE       bytes of the generated logs (default 1GiB; takes 256MiB, 64M, …)
 *     --items N         objects through the chains (default 10M)
 *     --duration S      seconds of each slow-consumer run (default 10)
 *     --timeout S       a run that takes longer fails (default 900; --quick 60)
 *     --allow-missing   a sluice variant failing because dist/ lacks it does not fail the run
 *     --out FILE        the JSON report (default bench/results/latest.json; --quick: bench/results/quick.json)
 *
 * How: the logs are generated (seed 1, examples/gen-access-log.ts) into a folder under os.tmpdir(),
 * removed at the end. Within each case the variants run interleaved (A B C, A B C, …), every run in a
 * fresh process: plain `node` on a copy of bench/ transpiled into that folder, because a TypeScript
 * loader would add ~40 MB to every RSS figure. The child times the work alone (not start-up or
 * imports) and reports its peak RSS (VmHWM on Linux, see child.ts); programs (the cli scenario) are
 * timed whole, with their peak RSS sampled every 10 ms from /proc. Each run's output is checked (line
 * counts, checksums, counts per status): a fast wrong answer is a failure. The report gives per
 * variant the median, min–max, rate, MB/s, peak RSS and, for sluice variants, the ratio of their median
 * rate to each peer's from the same run; then the speed targets of the issues (printed, never judged).
 * Markdown on stdout, progress on stderr, JSON in bench/results/.
 *
 * Exit status: 1 when any variant fails (an error, a wrong result, a timeout), so CI notices breakage;
 * with --allow-missing, failures that are only "dist/ does not have it yet" are tolerated. 2 on bad usage.
 *
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseSize, writeAccessLog } from '../examples/gen-access-log.js';
import { MissingError, type Case, type Context, type LogFile, type Scenario, type Variant, type Work } from './harness.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCENARIOS = ['split', 'chain', 'parallel', 'adaptive', 'partition', 'threads', 'slow-consumer', 'buffer', 'cli', 'redis'];
const SEED = 1;

interface Options {
  names: string[];
  quick: boolean;
  rounds: number;
  size: number;
  items: number;
  duration: number;
  timeoutMs: number;
  allowMissing: boolean;
  out: string;
}

/** One run of one variant, as measured. */
interface Run extends Work {
  ms: number;
  rssMB?: number;
}

interface VariantResult {
  name: string;
  sluice: boolean;
  status: 'ok' | 'failed' | 'skipped';
  message?: string;
  /** The failure is only that dist/ lacks what the variant needs. */
  missing?: boolean;
  runs: Run[];
  medianMs?: number;
  minMs?: number;
  maxMs?: number;
  /** Median of the runs' items per second. */
  rate?: number;
  mbPerSecond?: number;
  peakRssMB?: number;
  extra?: Record<string, number>;
  /** Median rate over each peer's median rate. */
  ratios?: Record<string, number>;
}

interface CaseResult {
  name: string;
  title: string;
  items?: number;
  bytes?: number;
  variants: VariantResult[];
}

interface TargetResult {
  text: string;
  value?: number;
  /** The value as the report shows it. */
  shown?: string;
  met?: boolean;
}

// --help prints the top of the comment above, up to "How:".
const HEADER = readFileSync(fileURLToPath(import.meta.url), 'utf8');
const USAGE = HEADER.slice(3, HEADER.indexOf('\n *\n * How:'))
  .replace(/^ \* ?/gm, '')
  .trim();

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      size: { type: 'string' },
      items: { type: 'string' },
      duration: { type: 'string' },
      timeout: { type: 'string' },
      'allow-missing': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const unknown = positionals.filter((name) => !SCENARIOS.includes(name));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; there are ${SCENARIOS.join(', ')}`);
  const quick = values.quick;
  const positive = (flag: string, text: string | undefined, fallback: number, parse: (t: string) => number = Number): number => {
    const value = text === undefined ? fallback : parse(text);
    if (!(value > 0 && Number.isFinite(value))) throw new Error(`--${flag} must be a positive number, got ${JSON.stringify(text)}`);
    return value;
  };
  return {
    names: positionals.length > 0 ? SCENARIOS.filter((name) => positionals.includes(name)) : SCENARIOS,
    quick,
    rounds: Math.max(1, Math.round(positive('rounds', values.rounds, quick ? 1 : 5))),
    size: positive('size', values.size, quick ? 16 * 2 ** 20 : 2 ** 30, parseSize),
    items: positive('items', values.items, quick ? 100_000 : 10_000_000, parseSize),
    duration: positive('duration', values.duration, quick ? 2 : 10),
    timeoutMs: positive('timeout', values.timeout, quick ? 60 : 900) * 1000,
    allowMissing: values['allow-missing'],
    out: values.out ?? join(ROOT, 'bench', 'results', quick ? 'quick.json' : 'latest.json'),
  };
}

// ---------------------------------------------------------------------------------------------------
// Child processes

/** The process being measured, to kill on Ctrl-C. */
let current: ChildProcess | undefined;

// Children get a clean environment: no loader or flag of the runner's own.
const childEnv = { ...process.env };
delete childEnv['NODE_OPTIONS'];

type Outcome = { ok: true; run: Run } | { ok: false; error: string; missing?: boolean; skipped?: boolean };

/**
 * Transpiles bench/*.ts into `dir` (plain `node` runs it with no loader), beside links to node_modules/
 * and dist/ so that the same import specifiers resolve. Returns the child entry point.
 */
async function buildChildren(dir: string): Promise<string> {
  const { default: ts } = await import('typescript');
  await mkdir(join(dir, 'bench'), { recursive: true });
  for (const file of await readdir(join(ROOT, 'bench'))) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts') || file === 'run.ts') continue;
    const source = await readFile(join(ROOT, 'bench', file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    await writeFile(join(dir, 'bench', file.replace(/\.ts$/, '.js')), outputText);
  }
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  await symlink(join(ROOT, 'dist'), join(dir, 'dist'), 'dir');
  return join(dir, 'bench', 'child.js');
}

function tail(text: string): string {
  const lines = text.trim().split('\n');
  return lines.slice(-3).join(' / ').slice(-300);
}

/** Runs `node child.js …args` and reads its report from fd 3. */
function runChild(childJs: string, args: string[], timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [childJs, ...args], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env: childEnv });
    current = child;
    let report = '';
    let stderr = '';
    (child.stdio[3] as Readable).on('data', (chunk: Buffer) => (report += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      if (timedOut) return resolve({ ok: false, error: `timed out after ${timeoutMs / 1000} s` });
      try {
        const parsed = JSON.parse(report) as ({ ok: true } & Run) | { ok: false; error: string; missing: boolean };
        if (!parsed.ok) return resolve({ ok: false, error: parsed.error, missing: parsed.missing });
        const { ok: _, ...run } = parsed;
        resolve({ ok: true, run });
      } catch {
        resolve({ ok: false, error: `exited with ${code ?? signal} and no report${stderr ? `: ${tail(stderr)}` : ''}` });
      }
    });
  });
}

/** Peak RSS so far of a running process, in MiB, from /proc (Linux); undefined elsewhere or once gone. */
function highWaterMB(pid: number): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** Runs a program, timing it whole and sampling its peak RSS. */
function runProgram(file: string, args: string[], timeoutMs: number): Promise<Outcome & { stdout?: string }> {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
    current = child;
    let stdout = '';
    let stderr = '';
    let rssMB: number | undefined;
    let ms = 0;
    // Decoded as a stream: a character split between two reads stays whole.
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const sample = (): void => {
      const mb = child.pid === undefined ? undefined : highWaterMB(child.pid);
      if (mb !== undefined) rssMB = Math.max(rssMB ?? 0, mb);
    };
    const sampler = setInterval(sample, 10);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('exit', () => {
      ms = performance.now() - start;
    });
    child.on('error', (err) => {
      clearInterval(sampler);
      clearTimeout(timer);
      current = undefined;
      resolve({ ok: false, error: err.message });
    });
    child.on('close', (code, signal) => {
      clearInterval(sampler);
      clearTimeout(timer);
      current = undefined;
      if (timedOut) resolve({ ok: false, error: `timed out after ${timeoutMs / 1000} s` });
      else if (code !== 0) resolve({ ok: false, error: `exited with ${code ?? signal}${stderr ? `: ${tail(stderr)}` : ''}` });
      else resolve({ ok: true, run: { ms, ...(rssMB === undefined ? {} : { rssMB }) }, stdout });
    });
  });
}

async function runVariant(childJs: string, scenarioName: string, variant: Variant<unknown>, kase: Case<unknown>, options: Options): Promise<Outcome> {
  if ('setup' in variant) return runChild(childJs, [scenarioName, variant.name, JSON.stringify(kase.params)], options.timeoutMs);
  let program: ReturnType<typeof variant.command>;
  try {
    program = variant.command(kase.params, ROOT);
  } catch (err) {
    return { ok: false, error: (err as Error).message, missing: err instanceof MissingError };
  }
  if ('skip' in program) return { ok: false, error: program.skip, skipped: true };
  const outcome = await runProgram(program.file, program.args, options.timeoutMs);
  if (!outcome.ok || variant.parse === undefined) return outcome;
  return { ok: true, run: { ...outcome.run, ...variant.parse(outcome.stdout ?? '') } };
}

/** Why `run` is a wrong answer for `kase`, if it is. `reference` is the first check value seen in the case. */
function wrongResult(run: Run, kase: Case<unknown>, reference: Run['check']): string | undefined {
  const items = kase.expect?.items;
  if (items !== undefined && run.items !== undefined && run.items !== items) return `wrong result: ${run.items} items, expected ${items}`;
  const check = kase.expect?.check ?? reference;
  if (check !== undefined && run.check !== undefined && run.check !== check) {
    return `wrong result: check ${String(run.check).slice(0, 60)}, expected ${String(check).slice(0, 60)}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Statistics and report

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summarise(result: VariantResult, kase: Case<unknown>): void {
  const runs = result.runs;
  if (result.status !== 'ok' || runs.length === 0) return;
  const ms = runs.map((run) => run.ms);
  result.medianMs = median(ms);
  result.minMs = Math.min(...ms);
  result.maxMs = Math.max(...ms);
  result.rate = median(runs.map((run) => ((run.items ?? kase.items ?? 1) * 1000) / run.ms));
  if (kase.bytes !== undefined) result.mbPerSecond = kase.bytes / 1e6 / (result.medianMs / 1000);
  const rss = runs.flatMap((run) => (run.rssMB === undefined ? [] : [run.rssMB]));
  if (rss.length > 0) result.peakRssMB = Math.max(...rss);
  const keys = [...new Set(runs.flatMap((run) => Object.keys(run.extra ?? {})))];
  if (keys.length > 0) result.extra = Object.fromEntries(keys.map((key) => [key, median(runs.map((run) => run.extra?.[key] ?? NaN))]));
}

function addRatios(variants: VariantResult[]): void {
  const peers = variants.filter((v) => !v.sluice);
  for (const v of variants) {
    if (!v.sluice || v.rate === undefined) continue;
    v.ratios = Object.fromEntries(peers.filter((p) => p.rate !== undefined).map((p) => [p.name, v.rate! / p.rate!]));
  }
}

const fmtTime = (ms: number): string => (ms < 1000 ? `${ms.toPrecision(3)} ms` : `${(ms / 1000).toFixed(2)} s`);
const fmtRange = (min: number, max: number): string =>
  max < 1000 ? `${min.toPrecision(3)}–${max.toPrecision(3)} ms` : `${(min / 1000).toFixed(2)}–${(max / 1000).toFixed(2)} s`;
const fmtRate = (rate: number): string => (rate >= 1e6 ? `${(rate / 1e6).toFixed(2)} M` : rate >= 1e3 ? `${(rate / 1e3).toFixed(1)} k` : rate.toFixed(0));
const fmtMB = (mb: number): string => mb.toFixed(mb < 100 ? 1 : 0);
const fmtBytes = (bytes: number): string => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);
const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function table(scenario: Scenario<unknown>, name: string, kase: CaseResult): string {
  const peers = kase.variants.filter((v) => !v.sluice).map((v) => v.name);
  const showRatios = scenario.ratios !== false && kase.variants.some((v) => v.sluice);
  const columns = scenario.columns ?? [];
  const head = [
    'variant',
    'median',
    'min–max',
    `${scenario.unit}/s`,
    ...(kase.bytes === undefined ? [] : ['MB/s']),
    'peak RSS',
    ...columns.map((c) => c.label),
    ...(showRatios ? peers.map((p) => `vs ${p}`) : []),
  ];
  const rows = kase.variants.map((v) => {
    const label = v.sluice ? `**${v.name}**` : v.name;
    if (v.status !== 'ok' || v.medianMs === undefined) {
      const text = v.status === 'skipped' ? `skipped: ${v.message}` : `failed: ${v.message ?? 'no run'}`;
      return [label, cell(text), ...Array<string>(head.length - 2).fill('')];
    }
    return [
      label,
      fmtTime(v.medianMs),
      fmtRange(v.minMs!, v.maxMs!),
      fmtRate(v.rate!),
      ...(kase.bytes === undefined ? [] : [fmtMB(v.mbPerSecond!)]),
      v.peakRssMB === undefined ? 'n/a' : `${v.peakRssMB.toFixed(0)} MB`,
      ...columns.map((c) => (v.extra?.[c.key] === undefined ? '' : c.format(v.extra[c.key]!))),
      ...(showRatios ? peers.map((p) => (v.ratios?.[p] === undefined ? (v.sluice ? '—' : '') : `${v.ratios[p]!.toFixed(2)}x`)) : []),
    ];
  });
  const size = [kase.items === undefined ? '' : `${kase.items.toLocaleString('en')} ${scenario.unit}`, kase.bytes === undefined ? '' : fmtBytes(kase.bytes)]
    .filter(Boolean)
    .join(', ');
  return [
    `### ${name} · ${kase.name}: ${kase.title}${size ? ` (${size})` : ''}`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
  ].join('\n');
}

function judged(text: string, value: number | undefined, show: (value: number) => string, met: (value: number) => boolean): TargetResult {
  return value === undefined ? { text } : { text, value, shown: show(value), met: met(value) };
}

function checkTargets(name: string, scenario: Scenario<unknown>, cases: CaseResult[]): TargetResult[] {
  return (scenario.targets ?? []).flatMap((target) =>
    cases
      .filter((kase) => target.case === undefined || target.case === kase.name)
      .map((kase): TargetResult => {
        const where = `${name} · ${kase.name}: ${target.variant}`;
        const v = kase.variants.find((variant) => variant.name === target.variant);
        if ('vs' in target) {
          const { vs, atLeast } = target;
          return judged(
            `${where} ≥ ${atLeast}x ${vs}`,
            v?.ratios?.[vs],
            (x) => `${x.toFixed(2)}x`,
            (x) => x >= atLeast,
          );
        }
        if ('rssUnderMB' in target) {
          const limit = target.rssUnderMB;
          return judged(
            `${where} peak RSS < ${limit} MB`,
            v?.peakRssMB,
            (mb) => `${mb.toFixed(0)} MB`,
            (mb) => mb < limit,
          );
        }
        const [key, limit] = target.extraUnder;
        const column = scenario.columns?.find((c) => c.key === key);
        const show = column === undefined ? String : (x: number): string => column.format(x);
        return judged(`${where} ${column?.label ?? key} < ${show(limit)}`, v?.extra?.[key], show, (x) => x < limit);
      }),
  );
}

function targetLine(t: TargetResult): string {
  return t.met === undefined ? `- ? ${t.text}: no result` : `- ${t.met ? '✓' : '✗'} ${t.text}: ${t.shown}`;
}

function newestMtime(dir: string): number {
  if (!existsSync(dir)) return 0;
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  return Math.max(0, ...files.map((f) => statSync(join(dir, f)).mtimeMs));
}

/** The commit measured, `+dirty` when the tree has changes. */
function gitCommit(): string | undefined {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return undefined;
  return head.stdout.trim() + (git('status', '--porcelain').stdout.trim() === '' ? '' : '+dirty');
}

/** Why the sluice figures may not be today's code, if they may not. */
function distWarning(): string | undefined {
  const index = join(ROOT, 'dist', 'index.js');
  if (!existsSync(index)) return 'dist/ is not built: every sluice variant will fail (npm run build, or npm run bench, which builds)';
  if (newestMtime(join(ROOT, 'lib')) > statSync(index).mtimeMs) return 'dist/ is older than lib/: run npm run build to measure the current code';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------

async function main(options: Options): Promise<number> {
  const tmp = await mkdtemp(join(os.tmpdir(), 'sluice-bench-'));
  const cleanUp = (): void => rmSync(tmp, { recursive: true, force: true });
  process.once('SIGINT', () => {
    current?.kill('SIGKILL');
    cleanUp();
    process.exit(130);
  });
  try {
    return await benchmark(options, tmp);
  } finally {
    cleanUp();
  }
}

async function benchmark(options: Options, tmp: string): Promise<number> {
  const progress = (text: string): boolean => process.stderr.write(`${text}\n`);
  const warning = distWarning();
  if (warning !== undefined) progress(`warning: ${warning}`);

  const childJs = await buildChildren(join(tmp, 'build'));
  const baseline = await runChild(childJs, ['baseline'], 30_000);
  const cpus = os.cpus();
  const machine = {
    cores: cpus.length,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    date: new Date().toISOString(),
    commit: gitCommit(),
    emptyChildRssMB: baseline.ok ? Math.round(baseline.run.rssMB ?? 0) : undefined,
  };
  console.log(`## sluice benchmarks${options.quick ? ' (quick: small inputs, one round; a smoke test, not figures to quote)' : ''}\n`);
  console.log(
    `${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB RAM, Node ${machine.node}, ${machine.platform}, ` +
      `${machine.date.slice(0, 10)}. ${options.rounds} round${options.rounds > 1 ? 's' : ''}, variants interleaved, every run in a fresh process ` +
      `(an empty one peaks at ${machine.emptyChildRssMB ?? '?'} MB RSS). Ratios: a sluice variant's median rate over the peer's. MB/s = 10⁶ bytes/s, RSS in MiB.` +
      ` Commit ${machine.commit ?? 'unknown'}.\n`,
  );
  if (warning !== undefined) console.log(`> Warning: ${warning}.\n`);

  const logs = new Map<number, Promise<LogFile>>();
  const context: Context = {
    quick: options.quick,
    size: options.size,
    items: options.items,
    duration: options.duration,
    log(nonAsciiRatio) {
      let log = logs.get(nonAsciiRatio);
      if (log === undefined) {
        const path = join(tmp, `access-${nonAsciiRatio}.log`);
        const start = performance.now();
        log = writeAccessLog(path, { seed: SEED, bytes: options.size, nonAsciiRatio }).then((written) => {
          progress(`generated ${fmtBytes(written.bytes)} log, ${nonAsciiRatio * 100}% non-ASCII lines, in ${fmtTime(performance.now() - start)}`);
          return { path, ...written };
        });
        logs.set(nonAsciiRatio, log);
      }
      return log;
    },
  };

  const report = [];
  const failures: Array<{ where: string; missing: boolean }> = [];
  for (const name of options.names) {
    const { scenario } = (await import(`./${name}.js`)) as { scenario: Scenario<unknown> };
    const cases = await scenario.prepare(context);
    const caseResults: CaseResult[] = [];
    for (const kase of cases) {
      const results: VariantResult[] = scenario.variants.map((v) => ({ name: v.name, sluice: v.sluice === true, status: 'ok', runs: [] }));
      let reference: Run['check'];
      for (let round = 1; round <= options.rounds; round++) {
        for (const [i, variant] of scenario.variants.entries()) {
          const result = results[i]!;
          if (result.status !== 'ok') continue;
          const outcome = await runVariant(childJs, name, variant, kase, options);
          const wrong = outcome.ok ? wrongResult(outcome.run, kase, reference) : undefined;
          if (outcome.ok && wrong === undefined) {
            result.runs.push(outcome.run);
            reference ??= outcome.run.check;
            progress(`${name} · ${kase.name} · round ${round}/${options.rounds} · ${variant.name}: ${fmtTime(outcome.run.ms)}`);
          } else {
            result.status = !outcome.ok && outcome.skipped ? 'skipped' : 'failed';
            result.message = (outcome.ok ? wrong : outcome.error) ?? 'unknown';
            if (!outcome.ok && outcome.missing) result.missing = true;
            progress(`${name} · ${kase.name} · ${variant.name}: ${result.status}: ${result.message}`);
          }
        }
      }
      for (const result of results) summarise(result, kase);
      addRatios(results);
      const caseResult: CaseResult = { name: kase.name, title: kase.title, variants: results };
      if (kase.items !== undefined) caseResult.items = kase.items;
      if (kase.bytes !== undefined) caseResult.bytes = kase.bytes;
      caseResults.push(caseResult);
      for (const r of results) if (r.status === 'failed') failures.push({ where: `${name} · ${kase.name} · ${r.name}`, missing: r.missing === true });
      console.log(table(scenario, name, caseResult));
    }
    const targets = checkTargets(name, scenario, caseResults);
    if (targets.length > 0) console.log(`Targets:\n${targets.map(targetLine).join('\n')}\n`);
    report.push({ name, description: scenario.description, unit: scenario.unit, cases: caseResults, targets });
  }

  await mkdir(dirname(options.out), { recursive: true });
  const { names: _, out: __, timeoutMs, ...settings } = options;
  await writeFile(
    options.out,
    `${JSON.stringify({ machine, options: { ...settings, timeoutSeconds: timeoutMs / 1000, seed: SEED }, scenarios: report }, null, 2)}\n`,
  );
  progress(`wrote ${options.out}`);

  if (failures.length === 0) return 0;
  const tolerated = options.allowMissing && failures.every((f) => f.missing);
  progress(
    `${failures.length} run(s) failed${tolerated ? ' because dist/ lacks them (tolerated: --allow-missing)' : ''}:\n  ${failures.map((f) => f.where).join('\n  ')}`,
  );
  return tolerated ? 0 : 1;
}

let options: Options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  console.error(`bench: ${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
process.exitCode = await main(options);
