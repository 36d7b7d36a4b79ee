/**
 * A deterministic, seeded generator of web access logs in combined log format, with the request latency
 * in seconds appended (what nginx writes with `$request_time` at the end):
 *
 *     203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET /api/items/42?x=1 HTTP/1.1" 200 5123 "-" "Mozilla/5.0 …" 0.023
 *
 * Split on single spaces, field 9 (`$9` in awk, `line.split(' ')[8]` in JS) is the status, field 10 the
 * bytes sent and the last field the latency. A share of the lines (`nonAsciiRatio`) carries non-ASCII
 * UTF-8 in the path, the user, the referer or the user agent; with `nonAsciiRatio: 0` the log is ASCII.
 *
 * Speed: a few thousand lines are rendered once from a seeded PRNG, then stitched in seeded random order
 * with the timestamp patched in place (one second every 64 lines), so 1 GiB takes seconds, not minutes.
 * The same seed and options give the same bytes, whatever the chunk size.
 *
 * CLI (a size or a line count is required; sizes take KiB/MiB/GiB or k/M/G):
 *
 *     node --import tsx examples/gen-access-log.ts --bytes 1GiB --seed 1 --non-ascii 0.03 > access.log
 *     node --import tsx examples/gen-access-log.ts --lines 20000 --out access.log
 *
 * @module
 */
import { open } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** What to generate. With neither `bytes` nor `lines` the log never ends. */
export interface AccessLogOptions {
  /**
   * Seed of the PRNG (a non-negative safe integer): the same seed and options give the same bytes.
   * @default 1
   */
  seed?: number;
  /**
   * Stop before the first line that would take the output past this many bytes (whole lines only).
   * @default Infinity
   */
  bytes?: number;
  /**
   * Stop after this many lines.
   * @default Infinity
   */
  lines?: number;
  /**
   * Share of the lines (0 to 1) that contain non-ASCII UTF-8 ("é", "ü", "日本" …); 0 gives pure ASCII.
   * @default 0.03
   */
  nonAsciiRatio?: number;
}

/** Options of {@link accessLogStream}. */
export interface AccessLogStreamOptions extends AccessLogOptions {
  /**
   * Size of the Buffers pushed (at least 1024). Every chunk holds whole lines only.
   * @default 1048576
   */
  chunkSize?: number;
}

/** What {@link writeAccessLog} wrote. */
export interface AccessLogSummary {
  /** Lines written (each ends with `\n`). */
  lines: number;
  /** Bytes written. */
  bytes: number;
}

const DEFAULT_CHUNK = 1 << 20;
const MIN_CHUNK = 1024;
// Every pooled line is shorter than MIN_CHUNK, so any chunk can take at least one line.
const MAX_LINE = MIN_CHUNK - 1;
const ASCII_POOL = 4096;
const NON_ASCII_POOL = 1024;
const LINES_PER_SECOND = 64;
// 10/Oct/2026:00:00:00 +0000
const START_TIME = Date.UTC(2026, 9, 10) / 1000;

/**
 * The log as lines, without their `\n` (the same lines, in the same order, as {@link accessLogStream}).
 *
 * @param options What to generate; see {@link AccessLogOptions}.
 * @returns A generator of lines, endless when neither `bytes` nor `lines` is given.
 * @throws {TypeError | RangeError} When an option is out of range.
 *
 * @example Three lines, each with a status in field 9
 * ```ts
 * const lines = [...accessLogLines({ seed: 7, lines: 3 })];
 * assert.equal(lines.length, 3);
 * for (const line of lines) assert.match(line.split(' ')[8]!, /^[1-5]\d\d$/);
 * ```
 */
export function* accessLogLines(options: AccessLogOptions = {}): Generator<string, void, undefined> {
  const log = new LogWriter('accessLogLines()', options);
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (let n = log.fill(buf); n > 0; n = log.fill(buf)) {
    for (let start = 0; start < n; ) {
      const end = buf.indexOf(10, start);
      yield buf.toString('utf8', start, end);
      start = end + 1;
    }
  }
}

/**
 * The log as a byte stream of `chunkSize` Buffers (each holding whole lines), generated as it is read.
 *
 * @param options What to generate and the chunk size; see {@link AccessLogStreamOptions}.
 * @returns A Readable of Buffers; it ends after `bytes` or `lines`, or never when neither is given.
 * @throws {TypeError | RangeError} When an option is out of range.
 *
 * @example 1 MiB of pure ASCII log
 * ```ts
 * let size = 0;
 * for await (const chunk of accessLogStream({ seed: 1, bytes: 1 << 20, nonAsciiRatio: 0 })) size += chunk.length;
 * assert.ok(size <= 1 << 20 && size > (1 << 20) - 1024);
 * ```
 */
export function accessLogStream(options: AccessLogStreamOptions = {}): Readable {
  const where = 'accessLogStream()';
  const chunkSize = checkInteger(where, 'options.chunkSize', options.chunkSize ?? DEFAULT_CHUNK, MIN_CHUNK);
  const log = new LogWriter(where, options);
  return new Readable({
    highWaterMark: chunkSize,
    read() {
      // A fresh Buffer per chunk: the consumer may hold on to what it was given.
      const buf = Buffer.allocUnsafe(chunkSize);
      const n = log.fill(buf);
      this.push(n === 0 ? null : n === chunkSize ? buf : buf.subarray(0, n));
    },
  });
}

/**
 * Writes the log to a file (created or truncated), faster than piping {@link accessLogStream} into it.
 *
 * @param file Path of the file to write.
 * @param options What to generate; `bytes` or `lines` is required.
 * @returns How many lines and bytes were written.
 * @throws {TypeError | RangeError} When an option is out of range or the log would never end.
 */
export async function writeAccessLog(file: string, options: AccessLogOptions): Promise<AccessLogSummary> {
  const where = 'writeAccessLog()';
  if (options.bytes === undefined && options.lines === undefined) {
    throw new TypeError(`${where}: options.bytes or options.lines is required, or the file never ends`);
  }
  const log = new LogWriter(where, options);
  const buf = Buffer.allocUnsafe(DEFAULT_CHUNK);
  const handle = await open(file, 'w');
  try {
    for (let n = log.fill(buf); n > 0; n = log.fill(buf)) await handle.write(buf, 0, n);
  } finally {
    await handle.close();
  }
  return { lines: log.lines, bytes: log.bytes };
}

/**
 * Parses a size or a count: `1GiB`, `256MiB`, `64KiB` (powers of 1024), `10M`, `1.5k`, `2GB` (powers of
 * 1000), `1e6`, `20_000` or a plain integer. A trailing `B` is optional.
 *
 * @param text What to parse.
 * @returns The value, a non-negative safe integer.
 * @throws {RangeError} When `text` is not such a size.
 *
 * @example
 * ```ts
 * assert.equal(parseSize('256MiB'), 256 * 1024 * 1024);
 * assert.equal(parseSize('10M'), 10_000_000);
 * ```
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d[\d_]*(?:\.\d+)?(?:e\d+)?)\s*(?:([kmgt])(i)?)?b?\s*$/i.exec(text);
  const power = m?.[2] === undefined ? 0 : 'kmgt'.indexOf(m[2].toLowerCase()) + 1;
  const value = m?.[1] === undefined ? NaN : Number(m[1].replaceAll('_', '')) * (m[3] ? 1024 : 1000) ** power;
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`parseSize(): expected a size like 1GiB, 256MiB, 10M or 20000, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** Fills buffers with whole log lines: a seeded pick from the pools per line, the timestamp patched in. */
class LogWriter {
  readonly #lines: Uint8Array[];
  readonly #stampAt: Int32Array;
  readonly #asciiCount: number;
  readonly #nonAsciiRatio: number;
  readonly #random: () => number;
  readonly #maxBytes: number;
  #maxLines: number;
  #count = 0;
  #size = 0;
  // A line already drawn from the PRNG that did not fit in the last buffer; -1 when none.
  #pending = -1;
  #time = START_TIME;
  #stamp = renderStamp(START_TIME);

  constructor(where: string, options: AccessLogOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`${where}: options must be an object, got ${show(options)}`);
    }
    const seed = checkInteger(where, 'options.seed', options.seed ?? 1, 0);
    this.#maxBytes = checkInteger(where, 'options.bytes', options.bytes ?? Infinity, 0);
    this.#maxLines = checkInteger(where, 'options.lines', options.lines ?? Infinity, 0);
    const ratio = options.nonAsciiRatio ?? 0.03;
    if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) {
      const Kind = typeof ratio === 'number' ? RangeError : TypeError;
      throw new Kind(`${where}: options.nonAsciiRatio must be a number from 0 to 1, got ${show(ratio)}`);
    }
    this.#nonAsciiRatio = ratio;
    this.#random = mulberry32(seed);
    const texts = [...renderLines(this.#random, ASCII_POOL, false), ...renderLines(this.#random, NON_ASCII_POOL, true)];
    this.#asciiCount = ASCII_POOL;
    this.#lines = texts.map((text) => Buffer.from(text));
    this.#stampAt = Int32Array.from(texts, (text) => Buffer.byteLength(text.slice(0, text.indexOf('[') + 1)));
  }

  get lines(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#size;
  }

  /** Writes whole lines into `out` from its start; returns the bytes written, 0 once the log has ended. */
  fill(out: Uint8Array): number {
    let pos = 0;
    while (this.#count < this.#maxLines) {
      const index = this.#pending >= 0 ? this.#pending : this.#pick();
      const line = this.#lines[index]!;
      if (this.#size + line.length > this.#maxBytes) {
        this.#maxLines = this.#count;
        break;
      }
      if (pos + line.length > out.length) {
        this.#pending = index;
        break;
      }
      this.#pending = -1;
      out.set(line, pos);
      out.set(this.#stamp, pos + this.#stampAt[index]!);
      pos += line.length;
      this.#size += line.length;
      if (++this.#count % LINES_PER_SECOND === 0) this.#stamp = renderStamp(++this.#time);
    }
    return pos;
  }

  #pick(): number {
    const u = this.#random();
    const ratio = this.#nonAsciiRatio;
    const nonAscii = this.#lines.length - this.#asciiCount;
    if (u < ratio) return this.#asciiCount + Math.min(nonAscii - 1, Math.floor((u / ratio) * nonAscii));
    return Math.min(this.#asciiCount - 1, Math.floor(((u - ratio) / (1 - ratio)) * this.#asciiCount));
  }
}

/** A small, fast 32-bit PRNG (mulberry32) returning floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = (seed ^ Math.floor(seed / 2 ** 32)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `10/Oct/2026:13:55:36` for a Unix time in seconds (the ` +0000]` after it never changes). */
function renderStamp(seconds: number): Buffer {
  const d = new Date(seconds * 1000);
  const two = (n: number): string => String(n).padStart(2, '0');
  return Buffer.from(
    `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` + `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`,
  );
}

type Weighted<T> = ReadonlyArray<readonly [T, number]>;

const METHODS: Weighted<string> = [
  ['GET', 80],
  ['POST', 12],
  ['PUT', 3],
  ['DELETE', 2],
  ['HEAD', 2],
  ['OPTIONS', 1],
];
const STATUSES: Weighted<number> = [
  [200, 70],
  [304, 8],
  [404, 7],
  [301, 3],
  [302, 3],
  [206, 1],
  [400, 2],
  [401, 1.5],
  [403, 1],
  [500, 2],
  [502, 0.8],
  [503, 0.7],
];
const USERS = ['alice', 'bob', 'carol', 'dave'];
const USERS_NON_ASCII = ['jürgen', 'zoë', 'françois', 'søren', 'たろう'];
const WORDS = ['shoes', 'laptop', 'coffee', 'garden', 'books', 'bike', 'camera', 'lamp', 'desk', 'tent'];
const WORDS_NON_ASCII = ['café', 'crème-brûlée', 'über-uns', 'müller', 'smørrebrød', '日本', '東京', '日本語', 'naïve', 'señor'];
const REFERERS = ['https://example.com/', 'https://www.google.com/', 'https://example.com/search?q=shoes', 'https://news.example.org/top'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
  'curl/8.5.0',
  'python-requests/2.32.3',
  'Googlebot/2.1 (+http://www.google.com/bot.html)',
];
const AGENTS_NON_ASCII = [
  'MeineApp/3.2 (München; iOS 17.5; de_DE)',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36 Zürich-Reader/2.1',
  'ニュースアプリ/5.4 (iPhone; iOS 17.5; ja_JP)',
  'Mozilla/5.0 (compatible; Façade-Crawler/1.0; +https://example.fr/robots)',
];

/** Renders `count` distinct-looking lines (each ending with `\n`); with `nonAscii`, each holds non-ASCII. */
function renderLines(random: () => number, count: number, nonAscii: boolean): string[] {
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;
  const weighted = <T>(list: Weighted<T>): T => {
    let r = random() * list.reduce((sum, [, w]) => sum + w, 0);
    for (const [value, w] of list) if ((r -= w) < 0) return value;
    return list[0]![0];
  };
  // Log-normal around `median`: latencies and sizes have long right tails.
  const logNormal = (median: number, sigma: number): number =>
    median * Math.exp(sigma * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));

  const out: string[] = [];
  while (out.length < count) {
    // Where the non-ASCII goes, when it must go somewhere: path, user, referer or user agent.
    const spot = nonAscii
      ? weighted<'path' | 'user' | 'referer' | 'agent'>([
          ['path', 50],
          ['user', 10],
          ['referer', 10],
          ['agent', 30],
        ])
      : 'none';
    const word = (): string => (spot === 'path' ? pick(WORDS_NON_ASCII) : pick(WORDS));
    const ip = `${pick(['203.0.113', '198.51.100', '192.0.2', `10.${int(256)}.${int(256)}`])}.${1 + int(254)}`;
    const user = spot === 'user' ? pick(USERS_NON_ASCII) : random() < 0.05 ? pick(USERS) : '-';
    const method = weighted(METHODS);
    const status = weighted(STATUSES);
    const id = 1 + int(99_999);
    const isStatic = random() < 0.3;
    // Templates taking a word; with the non-ASCII in the path, only those.
    const worded = [
      () => `/images/${word()}-${id % 100}.png`,
      () => `/search?q=${word()}&page=${1 + int(5)}`,
      () => `/blog/2026/${word()}-${id % 1000}`,
      () => `/products/${word()}/${id}`,
    ];
    const plain = isStatic
      ? [() => `/static/js/app.${id.toString(16)}.js`, () => `/static/css/main.${id.toString(16)}.css`]
      : [() => `/api/items/${id}`, () => `/api/items/${id}?x=${int(10)}`, () => `/api/users/${id}/orders`, () => '/', () => '/login', () => '/health'];
    const path = pick(spot === 'path' ? worded : [...worded, ...plain])();
    const protocol = random() < 0.8 ? 'HTTP/1.1' : 'HTTP/2.0';
    const bytes = status === 304 || method === 'HEAD' ? 0 : status >= 300 ? 150 + int(400) : Math.round(logNormal(isStatic ? 20_000 : 3_000, 1));
    const referer = spot === 'referer' ? `https://example.jp/検索?q=${pick(WORDS_NON_ASCII)}` : random() < 0.6 ? '-' : pick(REFERERS);
    const agent = spot === 'agent' ? pick(AGENTS_NON_ASCII) : pick(AGENTS);
    const latency = Math.min(30, Math.max(0.0005, logNormal(isStatic ? 0.004 : 0.03, 1)));
    const line =
      `${ip} - ${user} [10/Oct/2026:00:00:00 +0000] "${method} ${path} ${protocol}" ${status} ${bytes} ` + `"${referer}" "${agent}" ${latency.toFixed(3)}\n`;
    if (Buffer.byteLength(line) <= MAX_LINE) out.push(line);
  }
  return out;
}

function checkInteger(where: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number') throw new TypeError(`${where}: ${name} must be an integer >= ${min}, got ${show(value)}`);
  if (value !== Infinity && !(Number.isSafeInteger(value) && value >= min)) {
    throw new RangeError(`${where}: ${name} must be an integer >= ${min}, got ${show(value)}`);
  }
  return value;
}

function show(value: unknown): string {
  if (typeof value === 'string') return `${JSON.stringify(value)} (string)`;
  return value === null ? 'null' : `${String(value)} (${typeof value})`;
}

const USAGE = `Usage: node --import tsx examples/gen-access-log.ts (--bytes SIZE | --lines N) [options]

Writes a deterministic web access log (combined log format + latency) to stdout or --out FILE.

Options:
  --bytes SIZE       stop before exceeding SIZE bytes (1GiB, 256MiB, 10MB, 20000 …)
  --lines N          stop after N lines (20000, 1M …)
  --seed N           PRNG seed (default 1): same seed, same bytes
  --non-ascii R      share of lines with non-ASCII UTF-8, 0 to 1 (default 0.03)
  --out FILE, -o     write FILE instead of stdout
  --help, -h         show this help`;

function parseCli(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      bytes: { type: 'string' },
      lines: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'non-ascii': { type: 'string', default: '0.03' },
      out: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
}

async function main(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parseCli>;
  try {
    values = parseCli(argv);
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (values.bytes === undefined && values.lines === undefined) throw new Error('give --bytes SIZE or --lines N');
  } catch (err) {
    console.error(`gen-access-log: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const options: AccessLogOptions = {
    seed: Number(values.seed),
    nonAsciiRatio: Number(values['non-ascii']),
    ...(values.bytes === undefined ? {} : { bytes: parseSize(values.bytes) }),
    ...(values.lines === undefined ? {} : { lines: parseSize(values.lines) }),
  };
  if (values.out !== undefined) {
    await writeAccessLog(values.out, options);
    return 0;
  }
  try {
    await pipeline(accessLogStream(options), process.stdout);
  } catch (err) {
    // `… | head` closed the pipe: that is how a reader says "enough", not a failure.
    if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
  }
  return 0;
}

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`gen-access-log: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = err instanceof RangeError || err instanceof TypeError ? 2 : 1;
    },
  );
}
