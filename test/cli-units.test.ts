// In-process tests of CLI helpers. They get no coverage of their own (see test/fixtures/coverage-map.mjs):
// lib/cli is measured through the built command that test/cli.test.ts spawns.
import t from 'tap';
import fc from 'fast-check';
import { OPTIONS } from '../lib/cli/args.js';
import { HELP } from '../lib/cli/help.js';
import { field } from '../lib/cli/fields.js';
import { renderProgress } from '../lib/cli/progress.js';

t.test('field() splits as awk does: runs of blanks, leading blanks ignored (property)', async () => {
  const text = fc.string({ unit: fc.constantFrom('a', 'é', ' ', '\t', 'b'), maxLength: 16 });
  fc.assert(
    fc.property(text, fc.nat(6), (line, n) => {
      const fields = line.split(/[ \t]+/).filter((f) => f !== '');
      const expected = n === 0 ? line : (fields[n - 1] ?? '');
      return field(line, n) === expected;
    }),
  );
});

t.test('renderProgress() shows percent, bytes done/total, rate and ETA, fitted to the width', async (t) => {
  const line = renderProgress(50 * 2 ** 20, 200 * 2 ** 20, 2000, 100, false);
  t.equal(line, ' 25% [##########------------------------------] 50.0 MiB / 200.0 MiB  25.0 MiB/s  ETA 0:06');
  t.ok(line.length <= 100);
  t.match(renderProgress(1, 2, 1, 100, true), /\x1b\[36m#+\x1b\[0m/);
  t.ok(renderProgress(5, 10, 1000, 30, false).length < 30);
});

t.test('--help lists every option', async (t) => {
  for (const name of Object.keys(OPTIONS)) t.match(HELP, `--${name}`, name);
});
