/**
 * CSV → NDJSON: the header row names the fields; each later row becomes one JSON object per line.
 *
 *     node --import tsx examples/csv-to-ndjson.ts people.csv > people.ndjson
 *     node --import tsx examples/csv-to-ndjson.ts                 # converts a small built-in sample
 *     node --import tsx examples/csv-to-ndjson.ts --strict x.csv  # stop at the first bad row (exit 1)
 *
 * Fields follow RFC 4180: separated by commas, optionally in double quotes, where a quoted field may
 * hold commas, doubled quotes ("") and line breaks. A row with the wrong number of fields, or a quote
 * left open at the end of the file, is a bad row: it is reported on stderr with its line number and
 * skipped (with --strict, the conversion stops there with exit status 1).
 *
 * The examples import the library's source so that they run without a build; in your project,
 * import from 'sluice'.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { map, pipeline, split, through } from '../lib/index.js';

const SAMPLE = `id,name,city,note
1,Ada Lovelace,London,"wrote the first program, 1843"
2,"Grace ""Amazing"" Hopper",New York,
3,Zoë Müller,Zürich,"two
lines"
4,Alan Turing,Wilmslow
5,Edsger Dijkstra,Nuenen,"shortest paths"
`;

/** A line of input and its 1-based number. */
interface Line {
  text: string;
  n: number;
}

/** A CSV row, which may span several lines, and the number of the line it starts on. */
interface Row {
  fields: string[];
  line: number;
}

/** A row that cannot be converted. */
class BadRow extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Parses one row's text into fields; returns undefined when a quoted field is still open at the end
 * (the row goes on on the next line).
 */
function parseRow(text: string): string[] | undefined {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') {
        field += '"';
        i++;
      } else quoted = false;
    } else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '"' && field === '') quoted = true;
    else field += c;
  }
  if (quoted) return undefined;
  fields.push(field);
  return fields;
}

/** Lines → rows, joining the lines of a quoted field that holds line breaks. */
function rows(onBad: (err: BadRow) => void) {
  let pending: { text: string; line: number } | undefined;
  return through<Line, Row>(
    (line, _encoding, callback) => {
      const text = pending === undefined ? line.text : `${pending.text}\n${line.text}`;
      const start = pending?.line ?? line.n;
      const fields = parseRow(text);
      pending = fields === undefined ? { text, line: start } : undefined;
      callback(null, fields === undefined ? undefined : { fields, line: start });
    },
    (callback) => {
      if (pending !== undefined) onBad(new BadRow(pending.line, 'a quoted field is never closed'));
      callback();
    },
  );
}

/** Rows → objects keyed by the header row; a row of the wrong width goes to `onBad`. */
function objects(onBad: (err: BadRow) => void) {
  let header: string[] | undefined;
  return map((row: Row) => {
    if (header === undefined) {
      header = row.fields;
      return undefined;
    }
    if (row.fields.length !== header.length) {
      onBad(new BadRow(row.line, `expected ${header.length} fields (${header.join(', ')}), got ${row.fields.length}`));
      return undefined;
    }
    return Object.fromEntries(header.map((name, i) => [name, row.fields[i]]));
  });
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({ options: { strict: { type: 'boolean' } }, allowPositionals: true });
  const file = positionals[0];
  const input = file === undefined ? Readable.from([SAMPLE]) : file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 });
  const where = file ?? 'sample';
  let bad = 0;
  let converted = 0;
  const onBad = (err: BadRow): void => {
    if (values.strict) throw err;
    bad++;
    console.error(`csv-to-ndjson: ${where}:${err.line}: ${err.message} (skipped)`);
  };
  try {
    await pipeline(
      input,
      split({ map: (text, n) => ({ text, n }) }),
      rows(onBad),
      objects(onBad),
      map((record: Record<string, string>) => {
        converted++;
        return `${JSON.stringify(record)}\n`;
      }),
      process.stdout,
    );
  } catch (err) {
    if (!(err instanceof BadRow)) throw err;
    console.error(`csv-to-ndjson: ${where}:${err.line}: ${err.message}`);
    return 1;
  }
  console.error(`csv-to-ndjson: ${converted} rows converted, ${bad} bad row${bad === 1 ? '' : 's'} skipped`);
  return 0;
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(`csv-to-ndjson: ${err instanceof Error ? err.message : String(err)}`);
  return 1;
});
