/**
 * cli: status counts of a generated access log, as a shell user would get them: the `sluice` command,
 * mawk, and a plain Node readline script. Each is a whole program run (start-up included); the counts
 * they print must agree.
 *
 * @module
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Scenario, Work } from './harness.js';
import { sluiceCli } from './sluice.js';

interface Params {
  file: string;
}

// The sluice command lines under test, in one place to adjust as the CLI settles: the awk-style field
// (like for like with mawk) and the JavaScript a readline script would run.
const SLUICE_FIELD = "sluice --count-by '$9'";
const SLUICE_SPLIT = `sluice --count-by 'line.split(" ")[8]'`;
const SLUICE_ARGS: Record<string, string[]> = {
  [SLUICE_FIELD]: ['--count-by', '$9'],
  [SLUICE_SPLIT]: ['--count-by', 'line.split(" ")[8]'],
};
const AWK_PROGRAM = '{c[$9]++} END {for (s in c) print c[s], s}';

/** `count key` lines (in any order) → total count and a digest that does not depend on the order. */
function parseCounts(stdout: string): Work {
  const counts = stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [, count = '', key = ''] = /^\s*(\d+)\s+(.*?)\s*$/.exec(line) ?? [];
      return [key, Number(count)] as const;
    });
  return {
    items: counts.reduce((sum, [, count]) => sum + count, 0),
    check: counts
      .map(([key, count]) => `${key}=${count}`)
      .sort()
      .join(' '),
  };
}

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

export const scenario: Scenario<Params> = {
  description: 'log stats from the shell: count the statuses of an access log',
  unit: 'lines',
  async prepare({ log }) {
    const file = await log(0.03);
    return [
      {
        name: 'mixed',
        title: 'access log, 3% of lines with non-ASCII UTF-8',
        params: { file: file.path },
        items: file.lines,
        bytes: file.bytes,
        expect: { items: file.lines },
      },
    ];
  },
  variants: [
    {
      name: 'node readline script',
      command: ({ file }, root) => ({ file: process.execPath, args: [join(root, 'bench', 'count-status-readline.mjs'), file] }),
      parse: parseCounts,
    },
    {
      name: 'mawk',
      command({ file }) {
        const mawk = which('mawk');
        return mawk === undefined ? { skip: 'mawk is not installed (apt-get install -y mawk)' } : { file: mawk, args: [AWK_PROGRAM, file] };
      },
      parse: parseCounts,
    },
    ...Object.entries(SLUICE_ARGS).map(([name, args]) => ({
      name,
      sluice: true,
      command: ({ file }: Params, root: string) => ({ file: process.execPath, args: [sluiceCli(root), ...args, file] }),
      parse: parseCounts,
    })),
  ],
  targets: [
    { variant: SLUICE_FIELD, vs: 'node readline script', atLeast: 4 },
    // "Within 1.25x of mawk's time" is a rate of at least 1 / 1.25 of mawk's.
    { variant: SLUICE_FIELD, vs: 'mawk', atLeast: 0.8 },
  ],
};
