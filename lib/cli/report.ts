// --stats and --stats-json: the run's totals and a table of its stages, naming the bottleneck.
import type { StageStats, StatsReport } from '../index.js';
import { formatBytes } from './progress.js';

export interface Totals {
  linesIn: number;
  linesOut: number;
  bytes: number;
  /** Items a full --buffer dropped. */
  dropped: number;
}

/** Sums the stats of stages that did one job in turn (the per-line stages of each input). */
export function sum(name: string, parts: readonly StageStats[]): StageStats {
  const total = { name, itemsIn: 0, itemsOut: 0, filtered: 0, dropped: 0, errors: 0, retries: 0, inFlight: 0, busyMs: 0, starvedMs: 0, blockedMs: 0 };
  for (const part of parts) {
    for (const key of ['itemsIn', 'itemsOut', 'filtered', 'dropped', 'errors', 'retries', 'inFlight', 'busyMs', 'starvedMs', 'blockedMs'] as const)
      total[key] += part[key];
  }
  return total;
}

const percent = (part: number, s: StageStats): string => {
  const all = s.busyMs + s.starvedMs + s.blockedMs;
  return `${all === 0 ? 0 : Math.round((part / all) * 100)}%`;
};

/** The lines --stats prints: totals, a row per stage, the bottleneck. */
export function statsLines(totals: Totals, seconds: number, report: StatsReport | undefined): string[] {
  const lines = [
    `${totals.linesIn} lines in, ${totals.linesOut} lines out, ${formatBytes(totals.bytes)} in ${seconds.toFixed(2)} s ` +
      `(${Math.round(totals.linesIn / seconds)} lines/s, ${formatBytes(totals.bytes / seconds)}/s)`,
  ];
  if (report === undefined || report.stages.length === 0) return lines;
  const width = Math.max(5, ...report.stages.map((s) => s.name.length));
  // A dropped column only when something was dropped (a full --buffer, --skip-errors).
  const drops = report.stages.some((s) => s.dropped > 0);
  const row = (cells: string[]): string =>
    `${cells[0]!.padEnd(width)}  ${cells
      .slice(1)
      .map((c, i) => c.padStart(i < (drops ? 3 : 2) ? 10 : 8))
      .join('')}`;
  lines.push(row(['stage', 'in', 'out', ...(drops ? ['dropped'] : []), 'busy', 'starved', 'blocked']));
  for (const s of report.stages) {
    lines.push(
      row([
        s.name,
        String(s.itemsIn),
        String(s.itemsOut),
        ...(drops ? [String(s.dropped)] : []),
        percent(s.busyMs, s),
        percent(s.starvedMs, s),
        percent(s.blockedMs, s),
      ]),
    );
  }
  if (report.bottleneck !== undefined) lines.push(`bottleneck: ${report.bottleneck.reason}`);
  return lines;
}

/** --stats-json: one object. */
export function statsJson(totals: Totals, seconds: number, report: StatsReport | undefined): string {
  return JSON.stringify({ ...totals, seconds, stages: report?.stages ?? [], bottleneck: report?.bottleneck ?? null });
}
