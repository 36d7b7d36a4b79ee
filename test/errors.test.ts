import t from 'tap';
import { InvalidChunkError, LineError, LineTooLongError, SluiceError, TimeoutError } from '../lib/errors.js';

t.test('SluiceError: instanceof holds for every error sluice raises, and only for those', async (t) => {
  const chunk = new InvalidChunkError('split()', 'Buffer chunks', 5);
  t.ok(chunk instanceof SluiceError);
  t.ok(chunk instanceof TypeError, 'a wrong chunk type is a TypeError, as ERR_INVALID_ARG_TYPE is');
  t.ok(chunk instanceof InvalidChunkError);
  t.equal(chunk.code, 'ERR_SLUICE_INVALID_CHUNK');
  t.equal(chunk.name, 'InvalidChunkError');
  t.equal(chunk.message, 'split() expects Buffer chunks chunks, got number');
  const timeout = new TimeoutError('pipeline()', 5);
  t.ok(timeout instanceof SluiceError);
  t.notOk(timeout instanceof LineError, 'a subclass keeps its own instanceof');
  t.notOk(new Error('x') instanceof SluiceError);
  t.notOk((null as unknown) instanceof SluiceError);
  t.notOk(Object.create(SluiceError.prototype) instanceof TimeoutError);
});

t.test('LineError and LineTooLongError carry where, the input name included, read-only', async (t) => {
  const cause = new SyntaxError('bad');
  const e = new LineError({ line: 3, offset: 10, file: 'a.log' }, cause);
  t.match(e, { code: 'ERR_SLUICE_LINE', line: 3, offset: 10, file: 'a.log', message: 'a.log:3: bad', cause });
  t.equal(new LineError({ line: 1, offset: 0 }, 'plain').message, 'line 1: plain');
  const long = new LineTooLongError({ line: 2, offset: 4 }, 8);
  t.equal(long.file, undefined);
  t.equal(long.message, 'line 2 (byte offset 4) is longer than maxLength (8 bytes)');
});
