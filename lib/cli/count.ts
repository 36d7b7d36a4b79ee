// How items become output text (--to-json, --to-csv, --to-tsv, or strings as they are and other
// values as JSON), and --count-by's tally.
import { many, type Many } from '../index.js';
import type { OutputFormat } from './args.js';

/** Parsed NDJSON records and the text they came from: a record that reaches the output unchanged is written as it was read. */
const originals = new WeakMap<object, string>();

/** `JSON.parse` for --json, remembering the text of objects and arrays (see {@link toJson}). */
export function parseRecord(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (typeof value === 'object' && value !== null) originals.set(value, text.trim());
  return value;
}

// Sets and Maps as arrays and objects, BigInts as strings: JSON.stringify would give {} or throw.
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return String(value);
  if (value instanceof Set) return [...value];
  if (value instanceof Map) return [...value.keys()].every((k) => typeof k === 'string') ? Object.fromEntries(value) : [...value];
  return value;
}

/** One line of JSON: a record read with --json and not changed keeps its original text (big numbers and all). */
export function toJson(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    const original = originals.get(value);
    if (original !== undefined) return original;
  }
  // JSON.stringify gives undefined for functions and symbols: write what String() says instead.
  return JSON.stringify(value, replacer) ?? JSON.stringify(String(value));
}

/** An item as one line of text: a string as it is, anything else as JSON. */
export function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint' || typeof value === 'symbol') return String(value);
  return toJson(value);
}

/** CSV (RFC 4180 quoting) or TSV (tabs, newlines and backslashes escaped) rows. */
export class Rows {
  readonly #sep: string;
  #columns: string[] | undefined;

  constructor(format: 'csv' | 'tsv') {
    this.#sep = format === 'csv' ? ',' : '\t';
  }

  /**
   * The lines for one item: an array is a row; an object a row of its values, in the columns of the
   * first object (whose keys make a header line first, a line of its own, ended as every line is);
   * anything else a row of one cell. An object with a key the first one did not have is an error:
   * its value would be lost.
   */
  lines(value: unknown): string | Many<string> {
    if (Array.isArray(value)) return this.#row(value);
    if (typeof value !== 'object' || value === null || value instanceof Set || value instanceof Map) return this.#row([value]);
    const record = value as Record<string, unknown>;
    if (this.#columns === undefined) {
      this.#columns = Object.keys(record);
      return many([this.#row(this.#columns), this.#row(this.#columns.map((c) => record[c]))]);
    }
    const columns = this.#columns;
    for (const key of Object.keys(record)) {
      if (!columns.includes(key))
        throw new TypeError(`--to-${this.#sep === ',' ? 'csv' : 'tsv'}: the record has a column ${JSON.stringify(key)} that the first record did not have`);
    }
    return this.#row(columns.map((c) => record[c]));
  }

  #row(cells: readonly unknown[]): string {
    return cells.map((cell) => this.#cell(cell === undefined || cell === null ? '' : typeof cell === 'object' ? toJson(cell) : String(cell))).join(this.#sep);
  }

  #cell(text: string): string {
    if (this.#sep === '\t') return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }
}

/** A formatter's result as lines. */
export function linesOf(formatted: string | Many<string>): string[] {
  return typeof formatted === 'string' ? [formatted] : [...formatted.values];
}

/** The function that turns each output item into its text (a header line first, for CSV/TSV's first record), for a format. */
export function formatter(format: OutputFormat): (value: unknown) => string | Many<string> {
  if (format === 'json') return toJson;
  if (format === 'csv' || format === 'tsv') {
    const rows = new Rows(format);
    return (value) => rows.lines(value);
  }
  return toText;
}

export class Counter {
  // Keys as the expression gave them (200 and "200" are two keys); objects by their JSON text, shown
  // as the first such object. A mutable box per key: a repeated key then costs one Map lookup.
  readonly #counts = new Map<unknown, { key: unknown; n: number }>();

  /** Counts one item under `key`; `undefined` and `null` are not counted. */
  add(key: unknown): undefined {
    if (key === undefined || key === null) return undefined;
    const k = typeof key === 'object' ? toJson(key) : key;
    const box = this.#counts.get(k);
    if (box === undefined) this.#counts.set(k, { key, n: 1 });
    else box.n++;
    return undefined;
  }

  /** The tally as [key, count] pairs (a thread sends its own to the main thread's). */
  entries(): [unknown, number][] {
    return [...this.#counts.values()].map(({ key, n }) => [key, n]);
  }

  /** Adds another tally's pairs. */
  merge(entries: readonly [unknown, number][]): void {
    for (const [key, n] of entries) {
      const k = typeof key === 'object' && key !== null ? toJson(key) : key;
      const box = this.#counts.get(k);
      if (box === undefined) this.#counts.set(k, { key, n });
      else box.n += n;
    }
  }

  /**
   * The result, most frequent first, ties in the order of the keys' text (by UTF-16 code unit, as
   * `sort` in the C locale): `count key` lines with the count right-aligned in 7 columns as `uniq -c`
   * prints it; with `json`, `{"key":…,"count":…}` objects (the key as the value it is); CSV/TSV
   * rows under a `key,count` header.
   */
  lines(format: OutputFormat, top = Infinity): string[] {
    const entries = [...this.#counts.values()].map(({ key, n }) => ({ key, count: n, text: toText(key) }));
    entries.sort((a, b) => b.count - a.count || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
    const shown = entries.slice(0, top);
    if (format === 'json') return shown.map(({ key, count }) => `{"key":${toJson(key)},"count":${count}}`);
    if (format === 'csv' || format === 'tsv') {
      const rows = new Rows(format);
      return shown.flatMap(({ text, count }) => linesOf(rows.lines({ key: text, count })));
    }
    return shown.map(({ count, text }) => `${String(count).padStart(7)} ${text}`);
  }
}
