/**
 * cli: an access log from the shell, as a shell user would run it: the `sluice` command, mawk, and a
 * plain Node readline script. Each is a whole program run (start-up included). Two cases:
 *   - mixed: count the statuses (`--count-by '$9'`); the counts printed must agree;
 *   - print: print the path of every 4xx/5xx line (`--filter '$9 >= 400' --map '$7'`); the output
 *     must be the same bytes (its sha256), so `--threads 2` prints exactly what one thread does.
 * A variant made for one case is skipped in the other. The yardstick for `--threads 2` is the
 * machine's own parallel capacity: two one-thread sluice processes at once, each on one half of the
 * log (cut at a line boundary in prepare), their outputs then concatenated (counts added up by key);
 * `--threads 2`'s rate over theirs is its efficiency. Their peak RSS is the shell's, not theirs.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { LogFile, Scenario, Variant, Work } from './harness.js';
import { sluiceCli } from './sluice.js';

interface Params {
  task: 'count' | 'print';
  file: string;
  /** The log's two halves, cut at a line boundary, and where the two processes write their output. */
  halves: [string, string];
  outputs: [string, string];
}

// The sluice command lines under test, in one place to adjust as the CLI settles: the awk-style field
// (like for like with mawk) and the JavaScript a readline script would run.
const COUNT = ['--count-by', '$9'];
const PRINT = ['--filter', '$9 >= 400', '--map', '$7'];
const ARGS = { count: COUNT, print: PRINT };
const SLUICE_FIELD = "sluice --count-by '$9'";
const SLUICE_SPLIT = `sluice --count-by 'line.split(" ")[8]'`;
const SLUICE_FIELD_2 = "sluice --threads 2 --count-by '$9'";
const SLUICE_PRINT = "sluice --filter '$9 >= 400' --map '$7'";
const SLUICE_PRINT_2 = "sluice --threads 2 --filter '$9 >= 400' --map '$7'";
const HALVES = { count: "2 × sluice --count-by '$9' on halves", print: "2 × sluice --filter '$9 >= 400' --map '$7' on halves" };
const SLUICE_ARGS: Record<string, { task: Params['task']; args: string[] }> = {
  [SLUICE_FIELD]: { task: 'count', args: COUNT },
  [SLUICE_SPLIT]: { task: 'count', args: ['--count-by', 'line.split(" ")[8]'] },
  [SLUICE_FIELD_2]: { task: 'count', args: ['--threads', '2', ...COUNT] },
  [SLUICE_PRINT]: { task: 'print', args: PRINT },
  [SLUICE_PRINT_2]: { task: 'print', args: ['--threads', '2', ...PRINT] },
};
const AWK_PROGRAM = { count: '{c[$9]++} END {for (s in c) print c[s], s}', print: '$9 >= 400 {print $7}' };
const MAWK = { count: 'mawk', print: "mawk '$9 >= 400 {print $7}'" };
// Both halves at once, each into its own file; then their outputs, in order, as one.
const TWO_AT_ONCE = `node=$1 main=$2 in1=$3 in2=$4 out1=$5 out2=$6; shift 6
"$node" "$main" "$@" "$in1" > "$out1" & a=$!
"$node" "$main" "$@" "$in2" > "$out2" & b=$!
wait $a || exit 1
wait $b || exit 1
cat "$out1" "$out2"`;

/** `count key` lines (in any order, a key maybe more than once) → total count and a digest of the counts per key. */
function parseCounts(stdout: string): Work {
  const counts = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const [, count = '', key = ''] = /^\s*(\d+)\s+(.*?)\s*$/.exec(line) ?? [];
    counts.set(key, (counts.get(key) ?? 0) + Number(count));
  }
  return {
    items: [...counts.values()].reduce((sum, count) => sum + count, 0),
    check: [...counts]
      .map(([key, count]) => `${key}=${count}`)
      .sort()
      .join(' '),
  };
}

/** Printed lines → a sha256 of them (the rate stays that of the log's lines read). */
function parsePrinted(stdout: string): Work {
  return { check: createHash('sha256').update(stdout).digest('hex') };
}

const PARSE = { count: parseCounts, print: parsePrinted };

/** The path of `name` on PATH, if it is installed. */
function which(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // Not in this one.
    }
  }
  return undefined;
}

/** Copies the log's two halves, cut after the newline nearest its middle, beside it. */
async function cutInHalves(log: LogFile): Promise<[string, string]> {
  const handle = await open(log.path);
  let cut: number;
  try {
    const window = Buffer.alloc(64 * 1024);
    const from = Math.floor(log.bytes / 2);
    const { bytesRead } = await handle.read(window, 0, window.length, from);
    const nl = window.subarray(0, bytesRead).indexOf(0x0a);
    if (nl === -1) throw new Error('cli: no newline in the 64 KiB after the middle of the log');
    cut = from + nl + 1;
  } finally {
    await handle.close();
  }
  const halves: [string, string] = [`${log.path}.half1`, `${log.path}.half2`];
  await pipeline(createReadStream(log.path, { end: cut - 1 }), createWriteStream(halves[0]));
  await pipeline(createReadStream(log.path, { start: cut }), createWriteStream(halves[1]));
  return halves;
}

/** A variant made for `task` is skipped in the other case. */
function only(task: Params['task'], params: Params): { skip: string } | undefined {
  return params.task === task ? undefined : { skip: `${task === 'count' ? 'counts' : 'prints'} only` };
}

export const scenario: Scenario<Params> = {
  description: 'log stats from the shell: count the statuses of an access log, print the paths of its errors',
  unit: 'lines',
  async prepare({ log }) {
    const file = await log(0.03);
    const halves = await cutInHalves(file);
    const outputs: [string, string] = [`${file.path}.out1`, `${file.path}.out2`];
    const common = { file: file.path, halves, outputs };
    return [
      {
        name: 'mixed',
        title: "access log, 3% of lines with non-ASCII UTF-8: count by status (`--count-by '$9'`)",
        params: { task: 'count', ...common },
        items: file.lines,
        bytes: file.bytes,
        expect: { items: file.lines },
      },
      {
        // Every variant must print the bytes the first one did.
        name: 'print',
        title: "the same log: print the path of every 4xx/5xx line (`--filter '$9 >= 400' --map '$7'`)",
        params: { task: 'print', ...common },
        items: file.lines,
        bytes: file.bytes,
      },
    ];
  },
  variants: [
    {
      name: 'node readline script',
      command: (params, root) => only('count', params) ?? { file: process.execPath, args: [join(root, 'bench', 'count-status-readline.mjs'), params.file] },
      parse: parseCounts,
    },
    ...(['count', 'print'] as const).map(
      (task): Variant<Params> => ({
        name: MAWK[task],
        command(params) {
          const mawk = which('mawk');
          if (mawk === undefined) return { skip: 'mawk is not installed (apt-get install -y mawk)' };
          return only(task, params) ?? { file: mawk, args: [AWK_PROGRAM[task], params.file] };
        },
        parse: PARSE[task],
      }),
    ),
    ...Object.entries(SLUICE_ARGS).map(
      ([name, { task, args }]): Variant<Params> => ({
        name,
        sluice: true,
        command: (params, root) => only(task, params) ?? { file: process.execPath, args: [sluiceCli(root), ...args, params.file] },
        parse: PARSE[task],
      }),
    ),
    ...(['count', 'print'] as const).map(
      (task): Variant<Params> => ({
        name: HALVES[task],
        command: (params, root) =>
          only(task, params) ?? {
            file: '/bin/sh',
            args: ['-c', TWO_AT_ONCE, 'sh', process.execPath, sluiceCli(root), ...params.halves, ...params.outputs, ...ARGS[task]],
          },
        parse: PARSE[task],
      }),
    ),
  ],
  targets: [
    { case: 'mixed', variant: SLUICE_FIELD, vs: 'node readline script', atLeast: 4 },
    // "Within 1.25x of mawk's time" is a rate of at least 1 / 1.25 of mawk's.
    { case: 'mixed', variant: SLUICE_FIELD, vs: 'mawk', atLeast: 0.8 },
    // (t1 / t2) / (t1 / two halves) = two halves' time over t2's: --threads 2's rate over theirs.
    { case: 'mixed', variant: SLUICE_FIELD_2, vs: HALVES.count, atLeast: 0.85 },
    { case: 'print', variant: SLUICE_PRINT_2, vs: HALVES.print, atLeast: 0.85 },
    { case: 'mixed', variant: SLUICE_FIELD_2, rssUnderMB: 200 },
    { case: 'print', variant: SLUICE_PRINT_2, rssUnderMB: 200 },
  ],
};
