// --csv and --tsv: records from csv-parse (quoted fields, separators, quotes and newlines inside
// quotes, CRLF), loaded only when asked for. A record spans lines, so no split() names its line: each
// record carries where it starts, for the errors of the stages after it.
import type { Duplex } from 'node:stream';
import type { parse as Parse } from 'csv-parse';
import type { ItemFn } from './expr.js';

let parse: typeof Parse | undefined;

/** Loads csv-parse (a dependency of the command only, and only of a run that reads CSV or TSV). */
export async function loadCsv(): Promise<void> {
  parse ??= (await import('csv-parse')).parse;
}

const WHERE: unique symbol = Symbol('sluice.cli.csvWhere');

interface Where {
  line: number;
  offset: number;
}

/** Where the record of a parser's item (`{ record, info }`) starts (1-based line, byte offset), as `locate` marked it. */
export function located(item: unknown): Where {
  const record = (item as { record?: { [WHERE]?: Where } } | null)?.record;
  return record?.[WHERE] ?? { line: (item as { info?: { lines?: number } } | null)?.info?.lines ?? 0, offset: 0 };
}

export interface CsvRecords {
  /** The parser: bytes in, `{ record, info }` out. */
  stream: Duplex;
  /** The first step after it: the record, marked with where it starts. */
  locate: ItemFn;
  /** Lines read so far. */
  lines(): number;
}

/**
 * A CSV or TSV parser for one input. With `header`, the first record names the columns and records are
 * objects; without, arrays. `skip` lines are dropped before the header. TSV has no quoting: a `"` is a
 * character like any other. A malformed record fails the run naming its line, or with `skipErrors` is
 * dropped and reported to it (its line and message).
 */
export function csvRecords(
  format: 'csv' | 'tsv',
  opts: { header: boolean; skip: number; skipErrors: ((line: number | undefined, text: string) => void) | undefined },
): CsvRecords {
  if (parse === undefined) throw new Error('loadCsv() first');
  const parser = parse({
    delimiter: format === 'csv' ? ',' : '\t',
    quote: format === 'csv' ? '"' : false,
    columns: opts.header,
    from_line: opts.skip + 1,
    info: true,
    bom: true,
    skip_empty_lines: true,
    skip_records_with_error: opts.skipErrors !== undefined,
  });
  const skipErrors = opts.skipErrors;
  if (skipErrors !== undefined) parser.on('skip', (error: { lines?: number; message: string }) => skipErrors(error.lines, error.message));
  // Where the next record starts: after the skipped lines and the header.
  let lines = opts.skip + (opts.header ? 1 : 0);
  let bytes = 0;
  const locate: ItemFn = (item) => {
    const { record, info } = item as { record: object; info: { lines: number; bytes: number } };
    Object.defineProperty(record, WHERE, { value: { line: lines + 1, offset: bytes } });
    lines = info.lines;
    bytes = info.bytes;
    return record;
  };
  return { stream: parser, locate, lines: () => parser.info.lines };
}
