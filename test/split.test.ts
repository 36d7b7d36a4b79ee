import t from 'tap';
import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as tick } from 'node:timers/promises';
import { InvalidChunkError, InvalidUtf8Error, LineError, LineTooLongError, SluiceError } from '../lib/errors.js';
import { split, Split, type SplitOptions } from '../lib/split.js';
import { chain } from '../lib/chain.js';
import { toArray } from '../lib/to-array.js';
import { AsciiScanner, completeEnd, firstInvalid } from '../lib/internal/utf8.js';
import { leakCheck } from '../lib/testing/leak-check.js';
import { stageContract } from './fixtures/contract.js';

type Chunk = string | Uint8Array;

const MiB = 1 << 20;

/** Everything `split(options)` gives for `chunks`, written one by one. */
async function lines<T = string>(chunks: readonly Chunk[], options?: SplitOptions<T>): Promise<T[]> {
  const stream = split<T>(options);
  const out = stream.toArray();
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  return out;
}

/** The error `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** `buf` cut at `cuts` (any numbers; taken modulo its length), as subarrays: odd offsets included. */
function cut(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...at, buf.length]) {
    out.push(buf.subarray(from, to));
    from = to;
  }
  return out;
}

/** A reference line: its text, its byte length (without separator) and the byte offset of its start. */
interface RefLine {
  text: string;
  bytes: number;
  offset: number;
}

/**
 * Splits the whole `text` at `separators` (index and length of each match, in order), as split()
 * should; with `crlf`, a `\r` before a separator is dropped from the line.
 */
function reference(text: string, separators: Iterable<[number, number]>, crlf = false): RefLine[] {
  const out: RefLine[] = [];
  let from = 0;
  let offset = 0;
  const add = (end: number): void => {
    const line = text.slice(from, end);
    out.push({ text: line, bytes: Buffer.byteLength(line), offset });
  };
  for (const [index, length] of separators) {
    add(crlf && index > from && text[index - 1] === '\r' ? index - 1 : index);
    offset += Buffer.byteLength(text.slice(from, index + length));
    from = index + length;
  }
  if (from < text.length) add(text.length);
  return out;
}

function* stringMatches(text: string, sep: string): Generator<[number, number]> {
  for (let i = text.indexOf(sep); i !== -1; i = text.indexOf(sep, i + sep.length)) yield [i, sep.length];
}

function* regexMatches(text: string, re: RegExp): Generator<[number, number]> {
  for (const m of text.matchAll(new RegExp(re.source, `${re.flags}g`))) yield [m.index, m[0].length];
}

const unit = fc.constantFrom('a', 'b', ' ', 'é', '€', '😀', '日本', '\n', '\n', '\r\n', '\r', '||');
const text = fc.array(unit, { maxLength: 50 }).map((units) => units.join(''));
const cuts = fc.array(fc.nat(), { maxLength: 10 });

// ---- Separators and lines ------------------------------------------------------------------------

t.test('split() splits on \\n and drops a \\r just before it', async (t) => {
  t.same(await lines(['GET /\r\nPOST /\nPUT /\r\n']), ['GET /', 'POST /', 'PUT /']);
  t.same(await lines(['a\r', '\nb\r\r\n']), ['a', 'b\r'], 'only one \\r, also when cut from its \\n');
  t.same(await lines(['a\rb\n']), ['a\rb'], 'a \\r elsewhere stays');
  t.same(await lines(['last\r']), ['last\r'], 'a \\r at the very end is not followed by \\n: it stays');
});

t.test('split() emits a last line without separator, and no empty line after a final one', async (t) => {
  t.same(await lines(['a\nb']), ['a', 'b']);
  t.same(await lines(['a\nb\n']), ['a', 'b']);
  t.same(await lines(['\n']), ['']);
  t.same(await lines([]), []);
  t.same(await lines(['', Buffer.alloc(0)]), []);
});

t.test('split() emits empty lines in the middle as ""', async (t) => {
  t.same(await lines(['a\n\n\r\nb\n\n']), ['a', '', '', 'b', '']);
});

t.test('split() joins a UTF-8 character cut between chunks, wherever the cut', async (t) => {
  const bytes = Buffer.from('é€😀\n日本\nz');
  for (let i = 0; i <= bytes.length; i++) {
    for (let j = i; j <= bytes.length; j++) {
      const chunks = [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)];
      t.same(await lines(chunks), ['é€😀', '日本', 'z'], `cut at ${i} and ${j}`);
    }
  }
});

t.test('split() accepts strings, Buffers and Uint8Arrays, mixed', async (t) => {
  const u8 = new Uint8Array(Buffer.from('x\nyé'));
  t.same(await lines(['a\nb', Buffer.from('c\nd'), u8.subarray(1), '\n']), ['a', 'bc', 'd', 'yé']);
});

t.test('split() with a string separator finds it cut between chunks', async (t) => {
  const bytes = Buffer.from('one<=>two<=><=>three<=');
  for (let size = 1; size <= 5; size++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    t.same(await lines(chunks, { separator: '<=>' }), ['one', 'two', '', 'three<='], `${size}-byte chunks`);
  }
});

t.test('split() with a separator that overlaps itself splits like String.prototype.split', async (t) => {
  t.same(await lines(['a\n\n\nb\n\nc'], { separator: '\n\n' }), ['a', '\nb', 'c']);
  t.same(await lines(['xaaay', 'aa', 'aaz'], { separator: 'aa' }), 'xaaayaaaaz'.split('aa'));
});

t.test('split() with a non-ASCII separator', async (t) => {
  const bytes = Buffer.from('α→β→→γ');
  t.same(await lines(cut(bytes, [3, 4, 7]), { separator: '→' }), ['α', 'β', '', 'γ']);
});

t.test('split() with a RegExp waits for more input when a match reaches the end of the text', async (t) => {
  t.same(await lines(['a\n', '\n\nb\n', '\n'], { separator: /\n+/ }), ['a', 'b']);
  t.same(await lines(['a\r', '\nb\r\n'], { separator: /\r?\n/ }), ['a', 'b']);
  t.same(await lines(['a, b,', '  c'], { separator: /,\s*/ }), ['a', 'b', 'c']);
});

t.test('split() with a RegExp keeps its flags but g and y, and ignores empty matches', async (t) => {
  t.same(await lines(['aXbxc'], { separator: /x/iy }), ['a', 'b', 'c']);
  t.same(await lines(['a;b;;c'], { separator: /;?/g }), ['a', 'b', '', 'c']);
  t.same(await lines(['😀1😀2'], { separator: /\d/u }), ['😀', '😀']);
});

t.test('split() with a RegExp handles lines longer than its search window', async (t) => {
  const long = 'x'.repeat(5000) + 'é'.repeat(700);
  const bytes = Buffer.from(`${long}\r\n${long}\nend`);
  t.same(await lines(cut(bytes, [100, 3000, 4000, 7000, 9000]), { separator: /\r?\n/ }), [long, long, 'end']);
});

// ---- maxLength and skipOverflow -----------------------------------------------------------------

t.test('split() fails with LineTooLongError as soon as the unfinished line passes maxLength', async (t) => {
  for (const separator of [undefined, '\n', /\n/]) {
    const stream = split({ maxLength: 2000, ...(separator === undefined ? {} : { separator }) });
    const seen: string[] = [];
    stream.on('data', (line: string) => seen.push(line));
    const errored = once(stream, 'error');
    stream.write('ok\nabc');
    stream.write('d'.repeat(1500));
    await tick();
    t.equal(stream.destroyed, false, 'not yet past the limit');
    stream.write('e'.repeat(3000)); // no end(), no newline
    const [err] = (await errored) as [LineTooLongError];
    t.ok(err instanceof LineTooLongError);
    t.ok(err instanceof SluiceError);
    t.match(err, { code: 'ERR_SLUICE_LINE_TOO_LONG', line: 2, offset: 3, maxLength: 2000 });
    t.same(seen, ['ok'], String(separator));
  }
});

t.test('split() counts maxLength in bytes, without the separator', async (t) => {
  t.same(await lines(['éé\n'], { maxLength: 4 }), ['éé']);
  t.match(await failure(lines(['ok\néé\n'], { maxLength: 3 })), { code: 'ERR_SLUICE_LINE_TOO_LONG', line: 2, offset: 3 });
  t.same(await lines(['abcd\r', '\nabcd\r\n'], { maxLength: 4 }), ['abcd', 'abcd'], 'the \\r of \\r\\n is separator');
  t.same(await lines(['abcd<', '=', '>ab'], { maxLength: 4, separator: '<=>' }), ['abcd', 'ab'], 'so is a partial separator');
  t.match(await failure(lines(['abcd\r', 'x\n'], { maxLength: 4 })), { line: 1, offset: 0 });
  t.match(await failure(lines(['abcd\r'], { maxLength: 4 })), { line: 1 }, 'a last line is measured as it is');
});

t.test('split() fails on a finished line longer than maxLength', async (t) => {
  const err = await failure(lines(['a\nbb\nccc\ndd\n'], { maxLength: 2 }));
  t.ok(err instanceof LineTooLongError);
  t.match(err, { line: 3, offset: 5, message: 'line 3 (byte offset 5) is longer than maxLength (2 bytes)' });
  t.match(await failure(lines(['a\nbb\nccc\ndd\n'], { maxLength: 2, separator: /\n/ })), { line: 3, offset: 5 });
});

t.test('split() with skipOverflow drops overlong lines and counts them', async (t) => {
  for (const separator of ['\n', /\n/, undefined]) {
    const stream = split({ maxLength: 3, skipOverflow: true, ...(separator === undefined ? {} : { separator }) });
    const out = stream.toArray();
    for (const chunk of ['ab\nabcd\nxy', 'z\nlong', 'er and', ' longer\n', 'é\n', 'éé\nend']) stream.write(chunk);
    stream.end();
    t.same(await out, ['ab', 'xyz', 'é', 'end'], String(separator));
    t.equal(stream.skipped, 3);
    t.equal(stream.lines, 7);
  }
});

t.test('split() with skipOverflow finds a multi-byte separator cut where the skipped line ends', async (t) => {
  const stream = split({ maxLength: 2, skipOverflow: true, separator: '<=>' });
  const out = stream.toArray();
  for (const chunk of ['a<=>toolong<', '=', '>b<', '=>c']) stream.write(chunk);
  stream.end();
  t.same(await out, ['a', 'b', 'c']);
  t.equal(stream.skipped, 1);
});

t.test('split() with skipOverflow drops a last line that is too long', async (t) => {
  const stream = split({ maxLength: 2, skipOverflow: true });
  const out = stream.toArray();
  stream.end('ok\ntoo long');
  t.same(await out, ['ok']);
  t.equal(stream.skipped, 1);
  t.equal(stream.lines, 2);
});

// ---- map ------------------------------------------------------------------------------------------

t.test('split() passes on what map returns, with 1-based line numbers, dropping undefined and null', async (t) => {
  const calls: [string, number][] = [];
  const out = await lines(['{"n":1}\n\nnull\n{"n":', '2}'], {
    map: (line, n) => {
      calls.push([line, n]);
      return line === '' ? undefined : (JSON.parse(line) as { n: number } | null);
    },
  });
  t.same(out, [{ n: 1 }, { n: 2 }]);
  t.same(calls, [
    ['{"n":1}', 1],
    ['', 2],
    ['null', 3],
    ['{"n":2}', 4],
  ]);
});

t.test('split() fails with LineError when map throws, keeping the error as cause', async (t) => {
  const boom = new Error('boom');
  for (const separator of ['\n', /\n/]) {
    const seen: number[] = [];
    const err = await failure(
      lines(['1\n2\n', 'é\n4\n'], {
        separator,
        map: (line) => {
          if (line === 'é') throw boom;
          seen.push(Number(line));
          return line;
        },
      }),
    );
    t.ok(err instanceof LineError);
    t.match(err, { code: 'ERR_SLUICE_LINE', line: 3, offset: 4, message: 'line 3: boom' });
    t.equal(err.cause, boom);
    t.same(seen, [1, 2]);
  }
});

t.test('split() names its input in the errors it raises with options.name', async (t) => {
  const long = await failure(lines(['ok\nmuch too long\n'], { maxLength: 4, name: 'access.log' }));
  t.ok(long instanceof LineTooLongError);
  t.match(long, { file: 'access.log', line: 2, offset: 3, message: 'access.log:2 (byte offset 3) is longer than maxLength (4 bytes)' });
  const mapped = await failure(lines(['a\nb\n'], { name: 'x.txt', map: (line) => (line === 'b' ? JSON.parse(line) : line) }));
  t.ok(mapped instanceof LineError);
  t.match(mapped, { file: 'x.txt', line: 2, offset: 2 });
  t.match(mapped.message, /^x\.txt:2: /);
  t.throws(() => split({ name: 5 as never }), new TypeError('split(): options.name must be a string, got 5 (number)'));
});

t.test('chain() runs the functions after a split() inside it, per line, with ctx.line', async (t) => {
  const head = split({ name: 'in' });
  const seen: [string, number | undefined][] = [];
  const c = chain([
    head,
    (line: string, ctx) => {
      seen.push([line, ctx.line]);
      return line.toUpperCase();
    },
    async (line: string) => `${line}!`,
    function* (line: string) {
      yield line;
      yield line.length;
    },
  ]);
  t.equal(c, head, 'the functions were fused into the split itself');
  t.same(await toArray(['a\nbb\r\n', 'c'], c), ['A!', 2, 'BB!', 3, 'C!', 2]);
  t.same(seen, [
    ['a', 1],
    ['bb', 2],
    ['c', 3],
  ]);
  t.equal(head.lines, 3);
});

t.test('chain() turns an error of a function fused into a split() into a LineError naming the line', async (t) => {
  for (const fn of [
    (line: string) => JSON.parse(line) as unknown,
    async (line: string) => JSON.parse(line) as unknown,
    function* (line: string) {
      yield JSON.parse(line) as unknown;
    },
  ]) {
    const err = await failure(toArray(['1\n2\n{x\n4\n'], chain([split({ name: 'data.ndjson' }), fn])));
    t.ok(err instanceof LineError);
    t.match(err, { code: 'ERR_SLUICE_LINE', file: 'data.ndjson', line: 3, offset: 4 });
    t.ok(err.cause instanceof SyntaxError);
    t.match(err.message, /^data\.ndjson:3: Expected property name/);
  }
});

t.test("chain() runs a split()'s lines through async functions concurrently, in order, skipping failures", async (t) => {
  let running = 0;
  let most = 0;
  const c = chain(
    [
      split(),
      async (line: string) => {
        most = Math.max(most, ++running);
        await tick();
        running--;
        if (line === 'bad') throw new Error('bad line');
        return Number(line);
      },
    ],
    { concurrency: 3, onError: 'skip' },
  );
  t.same(await toArray(['1\n2\nbad\n3\n4\n5\n'], c), [1, 2, 3, 4, 5]);
  t.equal(most, 3);
  t.equal((c as unknown as Split).skipped, 1);
});

t.test('split() joins a surrogate pair cut between two string chunks', async (t) => {
  const text = 'a😀b\nc';
  const cut = text.indexOf('😀') + 1; // between the two halves of the pair
  t.same(await lines([text.slice(0, cut), text.slice(cut)]), ['a😀b', 'c']);
  t.same(await lines([text.slice(0, cut), text.slice(cut)], { separator: /\n/ }), ['a😀b', 'c']);
  // A lone half at the very end is what it is: U+FFFD, as TextEncoder gives.
  t.same(await lines(['x\uD83D']), ['x\uFFFD']);
});

// ---- UTF-8 ----------------------------------------------------------------------------------------

const invalid = Buffer.from([0x61, 0xff, 0x0a, 0xe2, 0x82, 0x0a, 0xc3, 0x28, 0xf0, 0x9f, 0x98, 0x0a, 0xed, 0xa0, 0x80, 0x0a]);

t.test('split() replaces invalid UTF-8 with U+FFFD, as TextDecoder does', async (t) => {
  const expected = new TextDecoder().decode(invalid).split('\n').slice(0, -1);
  for (const separator of [undefined, /\n/]) {
    for (let i = 0; i <= invalid.length; i++) {
      const out = await lines([invalid.subarray(0, i), invalid.subarray(i)], separator === undefined ? {} : { separator });
      t.same(out, expected, `cut at ${i}, ${String(separator)}`);
    }
  }
});

t.test('split() with fatal fails with InvalidUtf8Error at the first invalid byte', async (t) => {
  const cases: [Buffer[], number, number, string[]][] = [
    [[Buffer.from('ok\nab\xffc\n', 'latin1')], 5, 2, ['ok']],
    [[Buffer.from('ok\néab', 'latin1'), Buffer.from('cd\n', 'latin1')], 3, 2, ['ok']], // é as latin1: 0xe9
    [[Buffer.from('ok\nab'), Buffer.from([0xe2, 0x82])], 5, 2, ['ok']], // cut short by the end
    [[Buffer.from('a\n'), Buffer.from([0xe2]), Buffer.from([0x82, 0x41, 0x0a])], 2, 2, ['a']],
    [
      [Buffer.from(`${'x'.repeat(40000)}\n${'é'.repeat(30000)}\n`), Buffer.from([0x0a, 0xc0, 0x80, 0x0a])],
      100003,
      4,
      ['x'.repeat(40000), 'é'.repeat(30000), ''],
    ],
  ];
  for (const separator of [undefined, /\n/]) {
    for (const [chunks, offset, line, before] of cases) {
      const stream = split({ fatal: true, ...(separator === undefined ? {} : { separator }) });
      const seen: string[] = [];
      stream.on('data', (l: string) => seen.push(l));
      for (const chunk of chunks) stream.write(chunk);
      stream.end();
      const [err] = (await once(stream, 'error')) as [InvalidUtf8Error];
      t.ok(err instanceof InvalidUtf8Error, String(separator));
      t.match(err, { code: 'ERR_SLUICE_INVALID_UTF8', offset, line });
      t.same(seen, before);
    }
  }
});

t.test('split() with fatal passes valid UTF-8 through, and skips invalid bytes in skipped lines', async (t) => {
  t.same(await lines([Buffer.from('é€😀\n日本')], { fatal: true }), ['é€😀', '日本']);
  const bad = Buffer.from('toolong\xff\nok\n', 'latin1');
  t.same(await lines([bad], { fatal: true, maxLength: 3, skipOverflow: true }), ['ok']);
  t.same(await lines([Buffer.from('é'), bad], { fatal: true, maxLength: 3, skipOverflow: true }), ['ok']);
});

t.test('split() finds lines right in large chunks of mixed text, however they are cut', async (t) => {
  // Enough text for several 32 KiB windows per chunk, lines longer than a window, non-ASCII at
  // every distance from the chunk boundaries.
  let seed = 7;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  const parts: string[] = [];
  for (let i = 0; i < 4000; i++) {
    const len = rnd(50) === 0 ? 40000 + rnd(40000) : rnd(300);
    let line = 'x'.repeat(len);
    if (rnd(30) === 0) line = line.slice(0, rnd(len + 1)) + ['é', '日本', '😀'][rnd(3)] + line.slice(rnd(len + 1));
    parts.push(line + (rnd(5) === 0 ? '\r\n' : '\n'));
  }
  const all = parts.join('');
  const expected = reference(all, stringMatches(all, '\n'), true).map((l) => l.text);
  const bytes = Buffer.from(all);
  for (const size of [1 << 20, 65536, 7777]) {
    const chunks: Buffer[] = [];
    for (let i = 1; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    const out = await lines([bytes.subarray(0, 1), ...chunks], { fatal: true });
    t.equal(out.length, expected.length, `${size}-byte chunks`);
    t.ok(
      out.every((line, i) => line === expected[i]),
      `${size}-byte chunks: same lines`,
    );
  }
});

// ---- Bad input and options ----------------------------------------------------------------------

t.test('split() fails with InvalidChunkError on other chunks: an error event, never a throw', async (t) => {
  for (const chunk of [5, null, {}, [1]]) {
    const stream = split();
    const errored = once(stream, 'error');
    t.doesNotThrow(() => stream.write(chunk as never));
    const [err] = (await errored) as [InvalidChunkError];
    t.ok(err instanceof InvalidChunkError);
    t.equal(err.code, 'ERR_SLUICE_INVALID_CHUNK');
  }
  const err = await failure(pipeline(Readable.from([Buffer.from('a\n'), 42]), split(), new Writable({ objectMode: true, write: (_c, _e, cb) => cb() })));
  t.ok(err instanceof InvalidChunkError);
  t.equal(err.message, 'split() expects Buffer, Uint8Array or string chunks, got number');
});

t.test('split() validates its options when created', async (t) => {
  t.throws(() => split({ maxLength: 0 }), new RangeError('split(): options.maxLength must be an integer >= 1, got 0 (number)'));
  t.throws(() => split({ maxLength: 1.5 }), RangeError);
  t.throws(() => split({ maxLength: Infinity }), RangeError);
  t.throws(() => split({ maxLength: '10' as never }), new TypeError('split(): options.maxLength must be an integer >= 1, got "10" (string)'));
  t.throws(() => split({ separator: '' }), new RangeError('split(): options.separator must be a non-empty string or a RegExp, got "" (string)'));
  t.throws(() => split({ separator: 10 as never }), new TypeError('split(): options.separator must be a non-empty string or a RegExp, got 10 (number)'));
  t.throws(() => split({ separator: ['\n'] as never }), new TypeError('split(): options.separator must be a non-empty string or a RegExp, got Array (object)'));
  t.throws(() => split({ separator: null as never }), new TypeError('split(): options.separator must be a non-empty string or a RegExp, got null'));
  t.throws(() => split({ skipOverflow: 1 as never }), new TypeError('split(): options.skipOverflow must be a boolean, got 1 (number)'));
  t.throws(() => split({ fatal: 'yes' as never }), new TypeError('split(): options.fatal must be a boolean, got "yes" (string)'));
  t.throws(() => split({ map: 'JSON.parse' as never }), new TypeError('split(): options.map must be a function, got "JSON.parse" (string)'));
  t.throws(() => split({ highWaterMark: -1 }), new RangeError('split(): options.highWaterMark must be an integer >= 0, got -1 (number)'));
  t.throws(() => split({ signal: {} as never }), TypeError);
  t.throws(() => split(5 as never), new TypeError('split(): options must be an object, got 5 (number)'));
  t.ok(split() instanceof Split);
  t.ok(new Split({ separator: /,/ }) instanceof Split);
});

// ---- Streams: abort, backpressure ---------------------------------------------------------------

t.test('split() is destroyed with the signal reason, unchanged, on abort', async (t) => {
  const controller = new AbortController();
  const check = leakCheck({ signals: [controller.signal] });
  const stream = check.track(split({ signal: controller.signal }));
  const reason = { why: 'stop' };
  const errored = once(stream, 'error');
  const closed = new Promise((resolve) => stream.once('close', resolve));
  stream.write('a\nb');
  controller.abort(reason);
  t.equal((await errored)[0], reason);
  await closed;

  const early = check.track(split({ signal: AbortSignal.abort(reason) }));
  t.equal(early.destroyed, true, 'an aborted signal destroys it at once');
  t.equal((await once(early, 'error'))[0], reason);
  await check.verify();
});

t.test('split() drops the work it has pending when destroyed, leaving nothing scheduled', async (t) => {
  const check = leakCheck();
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Immediate').length;
  const stream = check.track(split());
  const seen: string[] = [];
  stream.on('data', (line: string) => seen.push(line));
  const closed = new Promise((resolve) => stream.once('close', resolve));
  stream.write(Buffer.alloc(MiB, 'a\n')); // big enough to be split on the next turn
  stream.destroy();
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Immediate').length, before);
  await closed;
  await tick();
  t.same(seen, []);
  await check.verify();
});

t.test('split() holds its writer back while its reader is full', async (t) => {
  const stream = split({ highWaterMark: 4 });
  let writes = 0;
  while (stream.write('a\n'.repeat(10)) && writes < 100) writes++;
  await tick();
  t.ok(writes <= 5, `${writes} writes accepted`);
  t.ok(stream.readableLength <= 10, `${stream.readableLength} lines buffered (one chunk's worth)`);
  stream.end();
  t.equal((await stream.toArray()).length, (writes + 1) * 10);
});

// ---- Memory: 256 MiB without a newline ----------------------------------------------------------

/** A Readable of `count` fresh 1 MiB Buffers of "a" (no newline), counting what it produced. */
function noNewline(count: number): Readable & { produced: number } {
  const source = new Readable({
    read() {
      if (source.produced === count) this.push(null);
      else {
        source.produced++;
        this.push(Buffer.allocUnsafe(MiB).fill(0x61));
      }
    },
  }) as Readable & { produced: number };
  source.produced = 0;
  return source;
}

t.test('split() with skipOverflow drops a 256 MiB line without a newline in bounded memory', async (t) => {
  const stream = split({ maxLength: MiB, skipOverflow: true });
  const source = noNewline(256);
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const out: string[] = [];
  await pipeline(source, stream, new Writable({ objectMode: true, write: (line: string, _e, cb) => (out.push(line), cb()) }));
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  t.equal(source.produced, 256);
  t.same(out, []);
  t.equal(stream.skipped, 1);
  t.equal(stream.lines, 1);
  t.ok(peak - before < 150 * MiB, `rss grew by ${((peak - before) / MiB).toFixed(0)} MiB`);
});

t.test('split() without skipOverflow fails on a 256 MiB line early, having read little of it', async (t) => {
  const stream = split({ maxLength: MiB });
  const source = noNewline(256);
  const err = await failure(pipeline(source, stream, new Writable({ objectMode: true, write: (_l, _e, cb) => cb() })));
  t.ok(err instanceof LineTooLongError);
  t.match(err, { line: 1, offset: 0, maxLength: MiB });
  t.ok(source.produced <= 32, `${source.produced} MiB produced`);
});

// ---- Laws -----------------------------------------------------------------------------------------

t.test('split() under any chunking equals splitting the whole text (default separator)', async () => {
  await fc.assert(
    fc.asyncProperty(text, cuts, async (s, at) => {
      const out = await lines(cut(Buffer.from(s), at));
      const expected = reference(s, stringMatches(s, '\n'), true).map((l) => l.text);
      if (JSON.stringify(out) !== JSON.stringify(expected)) throw new Error(`${JSON.stringify(out)} != ${JSON.stringify(expected)}`);
    }),
  );
});

t.test('split() under any chunking equals splitting the whole text (string separator)', async () => {
  const sep = fc.array(fc.constantFrom('a', 'é', '\n', '|', '😀'), { minLength: 2, maxLength: 4 }).map((u) => u.join(''));
  const withSep = sep.chain((s) =>
    fc.tuple(
      fc.constant(s),
      fc.array(fc.oneof(unit, fc.constant(s)), { maxLength: 40 }).map((u) => u.join('')),
    ),
  );
  await fc.assert(
    fc.asyncProperty(withSep, cuts, async ([separator, s], at) => {
      const out = await lines(cut(Buffer.from(s), at), { separator });
      const expected = reference(s, stringMatches(s, separator)).map((l) => l.text);
      if (JSON.stringify(out) !== JSON.stringify(expected)) throw new Error(`${JSON.stringify(out)} != ${JSON.stringify(expected)}`);
    }),
  );
});

t.test('split() under any chunking equals splitting the whole text (RegExp separator)', async () => {
  await fc.assert(
    fc.asyncProperty(text, cuts, fc.constantFrom(/\r?\n/, /\|+/, /\n|日/), async (s, at, separator) => {
      const out = await lines(cut(Buffer.from(s), at), { separator });
      const expected = reference(s, regexMatches(s, separator)).map((l) => l.text);
      if (JSON.stringify(out) !== JSON.stringify(expected)) throw new Error(`${JSON.stringify(out)} != ${JSON.stringify(expected)}`);
    }),
  );
});

t.test('split() with maxLength fails at the first long line, or skips every long line (property)', async () => {
  const separators: [SplitOptions['separator'], (s: string) => Iterable<[number, number]>, boolean][] = [
    [undefined, (s) => stringMatches(s, '\n'), true],
    ['||', (s) => stringMatches(s, '||'), false],
    [/\r?\n/, (s) => regexMatches(s, /\r?\n/), false],
  ];
  await fc.assert(
    fc.asyncProperty(text, cuts, fc.integer({ min: 1, max: 8 }), fc.nat(2), async (s, at, maxLength, which) => {
      const [separator, matches, crlf] = separators[which]!;
      const ref = reference(s, matches(s), crlf);
      const sepOption = separator === undefined ? {} : { separator };
      const chunks = cut(Buffer.from(s), at);

      const lenient = split({ maxLength, skipOverflow: true, ...sepOption });
      const kept = lenient.toArray();
      for (const chunk of chunks) lenient.write(chunk);
      lenient.end();
      const expected = ref.filter((l) => l.bytes <= maxLength).map((l) => l.text);
      if (JSON.stringify(await kept) !== JSON.stringify(expected)) throw new Error('skipOverflow: wrong lines');
      if (lenient.skipped !== ref.length - expected.length || lenient.lines !== ref.length) throw new Error('skipOverflow: wrong counts');

      const strict = split({ maxLength, ...sepOption });
      const seen: string[] = [];
      strict.on('data', (line: string) => seen.push(line));
      for (const chunk of chunks) strict.write(chunk);
      strict.end();
      const first = ref.findIndex((l) => l.bytes > maxLength);
      if (first === -1) {
        await once(strict, 'end');
        if (seen.length !== ref.length) throw new Error('no long line, yet not every line came out');
      } else {
        const [err] = (await once(strict, 'error')) as [LineTooLongError];
        if (!(err instanceof LineTooLongError) || err.line !== first + 1 || err.offset !== ref[first]!.offset) {
          throw new Error(`expected line ${first + 1} at ${ref[first]!.offset}, got ${String(err)}`);
        }
        if (JSON.stringify(seen) !== JSON.stringify(ref.slice(0, first).map((l) => l.text))) throw new Error('wrong lines before the error');
      }
    }),
  );
});

t.test('split() internals: UTF-8 and ASCII scanning agree with node:buffer (property)', async () => {
  // Valid characters and random bytes, mixed.
  const piece = fc.oneof(
    fc.uint8Array({ maxLength: 4 }),
    fc.string({ unit: 'binary', maxLength: 4 }).map((s) => new Uint8Array(Buffer.from(s))),
  );
  const bytes = fc.array(piece, { maxLength: 8 }).map((pieces) => Buffer.concat(pieces));
  fc.assert(
    fc.property(bytes, fc.nat(8), (raw, shift) => {
      const buf = Buffer.concat([Buffer.alloc(shift), raw]).subarray(shift); // any alignment
      const bad = firstInvalid(buf, 0, buf.length);
      if ((bad === -1) !== isUtf8(buf)) throw new Error(`firstInvalid says ${bad}`);
      if (bad !== -1) {
        const literal = buf[bad] === 0xef && buf[bad + 1] === 0xbf && buf[bad + 2] === 0xbd;
        if (!isUtf8(buf.subarray(0, bad)) || !buf.subarray(bad).toString().startsWith('\ufffd') || literal) {
          throw new Error(`not the first invalid byte: ${bad}`);
        }
      }
      const end = completeEnd(buf, 0, buf.length);
      const whole = buf.toString('utf8');
      if (buf.subarray(0, end).toString('utf8') + buf.subarray(end).toString('utf8') !== whole) throw new Error(`bad cut at ${end}`);
      const scanner = new AsciiScanner(buf);
      for (let from = 0; from <= buf.length; from++) {
        const expected = buf.findIndex((b, i) => i >= from && b >= 0x80);
        if (scanner.next(from, buf.length) !== (expected === -1 ? buf.length : expected)) throw new Error(`scanner wrong from ${from}`);
      }
    }),
  );
});

t.test("split() takes split2's arguments: a separator and a mapper before the options", async (t) => {
  const semicolons = split(';');
  semicolons.end('a;b');
  t.same(await semicolons.toArray(), ['a', 'b']);
  const regexp = split(/;\s*/, (line) => line.toUpperCase(), { maxLength: 10 });
  regexp.end('a; b;c');
  t.same(await regexp.toArray(), ['A', 'B', 'C']);
  const mapped = split((line) => Number(line));
  mapped.end('1\n2\n');
  t.same(await mapped.toArray(), [1, 2]);
  t.throws(() => split(';', { separator: ',' }), new TypeError('split(): the separator is given twice, as an argument and as options.separator'));
});

t.test('split() refuses a misspelled option, naming it and the option meant', async (t) => {
  t.throws(() => split({ seperator: ';' } as never), new TypeError('split(): options.seperator is not an option (did you mean "separator"?)'));
  t.throws(() => split({ maxlength: 3 } as never), new TypeError('split(): options.maxlength is not an option (did you mean "maxLength"?)'));
  t.throws(() => split({ zzz: 1 } as never), /options\.zzz is not an option; the options are highWaterMark, /);
});

// A function fused into a split() fails with a LineError naming the line, the error as its cause.
stageContract(
  'split()',
  (options, hooks) =>
    split({
      ...options,
      map: (line) => {
        hooks.visit(line);
        return line;
      },
    }),
  { item: (i) => `${i}\n`, unwrap: (error) => (error as LineError).cause, expected: ['0', '1', '2'] },
);
