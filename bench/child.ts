/**
 * Runs one in-process variant in this fresh process and reports on file descriptor 3, as one JSON object:
 * `{ ok: true, ms, rssMB, items?, check?, extra? }` or `{ ok: false, error, missing }`.
 * Started by run.ts (from its transpiled copy, with plain `node`, so no TypeScript loader weighs on the
 * RSS) as: `node child.js <scenario> <variant> <params as JSON>`; `node child.js baseline` reports the
 * RSS of a process that does nothing.
 *
 * @module
 */
import { readFileSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { MissingError, type InProcessVariant, type Scenario } from './harness.js';

/**
 * Peak RSS of this process in MiB. On Linux from VmHWM: getrusage's maxRSS (`process.resourceUsage()`)
 * starts from the parent's RSS at fork, so under a large runner every child would look that large.
 */
function peakRssMB(): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb !== undefined) return Number(kb) / 1024;
  } catch {
    // Not Linux: fall back.
  }
  return process.resourceUsage().maxRSS / 1024;
}

function report(result: object): void {
  writeSync(3, JSON.stringify(result));
}

async function main(scenarioName: string, variantName: string, params: unknown): Promise<void> {
  const { scenario } = (await import(`./${scenarioName}.js`)) as { scenario: Scenario<unknown> };
  const variant = scenario.variants.find((v) => v.name === variantName);
  if (variant === undefined || !('setup' in variant)) throw new Error(`${scenarioName} has no in-process variant "${variantName}"`);
  const job = await (variant as InProcessVariant<unknown>).setup(params);
  const start = performance.now();
  const work = await job();
  const ms = performance.now() - start;
  report({ ok: true, ms, rssMB: peakRssMB(), ...work });
}

const [scenarioName = '', variantName = '', params = 'null'] = process.argv.slice(2);
if (scenarioName === 'baseline') {
  report({ ok: true, ms: 0, rssMB: peakRssMB() });
} else {
  try {
    await main(scenarioName, variantName, JSON.parse(params));
  } catch (err) {
    report({ ok: false, error: err instanceof Error ? err.message : String(err), missing: err instanceof MissingError });
    process.exitCode = 1;
  }
}
// Whatever a variant left behind (a timer, an open handle), the measurement is done.
process.exit();
