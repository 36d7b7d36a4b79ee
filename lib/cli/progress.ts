// A one-line progress bar on stderr, hand-written (a dozen lines of rendering do not need
// cli-progress and its dependencies): bytes done/total, rate, ETA. Redrawn 4 times a second by an
// unref'd timer, so it costs the line-processing path nothing and never keeps the process alive.

export interface ProgressOptions {
  /** Where to draw: a terminal. */
  stream: NodeJS.WriteStream;
  /** Bytes to read in all, over every input. */
  total: number;
  /** Bytes read so far. */
  done: () => number;
  /** The stage that sets the pace now, if known (shown at the end of the line). */
  bottleneck?: () => string | undefined;
  /** Colour the bar (off when NO_COLOR is set). */
  color: boolean;
}

export interface Progress {
  /** Stops redrawing and clears the line. */
  stop(): void;
}

const INTERVAL = 250;

/**
 * Whether to draw a bar: stderr is a terminal, not --quiet, every input is a file of known size,
 * and stdout is not that same terminal receiving lines (the bar would be drawn among them).
 */
export function wantProgress(opts: { quiet: boolean; sizes: readonly (number | undefined)[]; linesToTerminal: boolean }): boolean {
  return (
    process.stderr.isTTY === true &&
    process.env['TERM'] !== 'dumb' &&
    !opts.quiet &&
    !opts.linesToTerminal &&
    opts.sizes.length > 0 &&
    opts.sizes.every((size) => size !== undefined)
  );
}

/** NO_COLOR (https://no-color.org): present and not empty means no colour. */
export function colorAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env['NO_COLOR'] ?? '') === '';
}

export function startProgress(opts: ProgressOptions): Progress {
  const started = performance.now();
  const draw = (): void => {
    const slowest = opts.bottleneck?.();
    const columns = opts.stream.columns || 80;
    const suffix = slowest === undefined ? '' : `  slowest: ${slowest}`;
    const line = renderProgress(opts.done(), opts.total, performance.now() - started, columns - suffix.length, opts.color) + suffix;
    opts.stream.write(`\r${line}\x1b[K`);
  };
  const timer = setInterval(draw, INTERVAL);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      opts.stream.write('\r\x1b[K');
    },
  };
}

/** ` 42% [########--------] 107.5 MiB / 256.0 MiB  85.2 MiB/s  ETA 0:02`, fitted to `columns`. */
export function renderProgress(done: number, total: number, elapsedMs: number, columns: number, color: boolean): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const rate = elapsedMs > 0 ? (done / elapsedMs) * 1000 : 0;
  const eta = rate > 0 ? (total - done) / rate : undefined;
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const text = `${formatBytes(done)} / ${formatBytes(total)}  ${formatBytes(rate)}/s  ETA ${eta === undefined ? '-:--' : clock(eta)}`;
  const width = Math.max(0, Math.min(40, columns - percent.length - text.length - 5));
  if (width < 5) return `${percent} ${text}`.slice(0, Math.max(0, columns - 1));
  const filled = Math.round(fraction * width);
  const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
  return `${percent} [${color ? `\x1b[36m${bar.slice(0, filled)}\x1b[0m${bar.slice(filled)}` : bar}] ${text}`;
}

/** `107.5 MiB` */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`;
}

function clock(seconds: number): string {
  const s = Math.ceil(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
