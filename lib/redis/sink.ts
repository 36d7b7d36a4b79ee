import { Writable } from 'node:stream';
import { Checkpoint, usesCheckpoints } from '../internal/checkpoint.js';
import { bindSignal, stageOptions, type StageOptions } from '../internal/stage-options.js';
import * as check from '../internal/validate.js';
import { CONNECTION_KEYS, Connection, connectionOptions, type ConnectionOptions } from './connection.js';

/** What `encode` may give for an entry: field names to values. */
export type RedisFieldValues = Record<string, string | number | Buffer>;

/** Options for {@link redisSink}. */
export interface RedisSinkOptions<T> extends ConnectionOptions, Pick<StageOptions, 'highWaterMark' | 'signal'> {
  /** The stream's key. Required. */
  stream: string;
  /**
   * Makes an entry's fields from an item.
   * @default a string or Buffer as `{ data: item }`, anything else as `{ data: JSON.stringify(item) }`
   */
  encode?: (item: T) => RedisFieldValues;
  /**
   * Trims the stream to about this many entries as it adds (`XADD … MAXLEN ~ n`). Never on a stream
   * that a consumer group works through: trimming by length deletes entries whether or not they were
   * delivered and acknowledged, so work is lost (use {@link trimStream} there instead).
   * @default undefined (no trimming)
   */
  maxLen?: number;
  /**
   * Items written to Redis in one pipelined round trip at most, and buffered before backpressure
   * applies: items written while a batch is under way go out together in the next.
   * @default 128
   */
  highWaterMark?: number;
}

const WHERE = 'redisSink()';
const KEYS = [...CONNECTION_KEYS, 'highWaterMark', 'signal', 'stream', 'encode', 'maxLen'] as const;

type Callback = (error?: Error | null) => void;

/**
 * The Writable behind {@link redisSink}: each write (or group of writes buffered meanwhile, through
 * `_writev`) is one pipelined round trip of XADDs, called back once Redis answered all of them.
 */
export class RedisSink<T = unknown> extends Writable {
  readonly #stream: string;
  readonly #conn: Connection;
  readonly #encode: ((item: T) => RedisFieldValues) | undefined;
  readonly #trim: string[];
  #written = 0;
  #uncork: NodeJS.Immediate | undefined;

  constructor(
    stream: string,
    encode: ((item: T) => RedisFieldValues) | undefined,
    maxLen: number | undefined,
    connection: Connection,
    stage: ReturnType<typeof stageOptions>,
  ) {
    super({ objectMode: true, highWaterMark: stage.writableHighWaterMark });
    this.#stream = stream;
    this.#encode = encode;
    this.#trim = maxLen === undefined ? [] : ['MAXLEN', '~', String(maxLen)];
    this.#conn = connection;
    bindSignal(this, stage.signal);
  }

  /** It resolves the checkpoints written to it, once every write before them is confirmed. */
  get [usesCheckpoints](): boolean {
    return true;
  }

  /** Entries added (confirmed by Redis). */
  get written(): number {
    return this.#written;
  }

  override _construct(callback: Callback): void {
    this.#conn.open().then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: Callback): void {
    this.#send([chunk], callback);
  }

  override _writev(chunks: { chunk: unknown }[], callback: Callback): void {
    const items = new Array<unknown>(chunks.length);
    for (let i = 0; i < chunks.length; i++) items[i] = chunks[i]!.chunk;
    this.#send(items, callback);
  }

  override _destroy(error: Error | null, callback: Callback): void {
    clearImmediate(this.#uncork);
    this.#uncork = undefined;
    this.#conn.close().then(
      () => callback(error),
      () => callback(error),
    );
  }

  #send(items: unknown[], callback: Callback): void {
    this.#add(items).then(
      () => {
        // Upstream, waiting for 'drain', writes again at once; the first of those writes would go out
        // alone. Corked for a turn of the event loop, they go out together, in one round trip.
        if (this.#uncork === undefined && !this.writableEnded) {
          this.cork();
          this.#uncork = setImmediate(() => {
            this.#uncork = undefined;
            this.uncork();
          });
        }
        callback();
      },
      (error: unknown) => callback(error as Error),
    );
  }

  async #add(items: unknown[]): Promise<void> {
    const commands: Array<string | Buffer>[] = [];
    let checkpoints: Checkpoint[] | undefined;
    for (const item of items) {
      if (item instanceof Checkpoint) (checkpoints ??= []).push(item);
      else commands.push(this.#command(item as T));
    }
    if (commands.length === 1) {
      await this.#conn.run('XADD', this.#stream, () => this.#conn.main.sendCommand(commands[0]!));
    } else if (commands.length > 1) {
      await this.#conn.run('XADD', this.#stream, () => {
        const multi = this.#conn.main.multi();
        for (const command of commands) multi.addCommand(command);
        return multi.execAsPipeline();
      });
    }
    this.#written += commands.length;
    // Every earlier write was called back before this one started: the checkpoints are due.
    if (checkpoints !== undefined) for (const checkpoint of checkpoints) checkpoint.resolve();
  }

  /** `XADD stream [MAXLEN ~ n] * field value …` for an item. */
  #command(item: T): Array<string | Buffer> {
    const command: Array<string | Buffer> = ['XADD', this.#stream, ...this.#trim, '*'];
    const encode = this.#encode;
    if (encode === undefined) {
      command.push('data', typeof item === 'string' || Buffer.isBuffer(item) ? item : JSON.stringify(item));
      return command;
    }
    const fields = encode(item);
    if (typeof fields !== 'object' || fields === null) check.invalid(WHERE, 'options.encode(item)', 'an object of fields', fields);
    for (const name of Object.keys(fields)) {
      const value = fields[name]!;
      command.push(name, Buffer.isBuffer(value) ? value : String(value));
    }
    if (command.length === 3 + this.#trim.length) check.invalid(WHERE, 'options.encode(item)', 'an object with at least one field', fields);
    return command;
  }
}

/**
 * Writes each item as an entry of a Redis stream (`XADD`), in pipelined batches, as an object-mode
 * Writable. A write is called back only once Redis has added its entry, so a pipeline that ends in
 * it resolves only when every item is in Redis; a checkpoint written to it (from a
 * {@link redisSource}) is resolved once every write before it is confirmed, which is what lets the
 * source acknowledge its entries. Connection failures are retried for `reconnectTimeout` ms (an entry
 * whose XADD was cut off may then be added twice); an error reply from Redis destroys the sink with a
 * {@link RedisError}.
 *
 * @typeParam T The items.
 * @param options See {@link RedisSinkOptions}.
 * @returns A {@link RedisSink}.
 * @throws {TypeError} When an option has the wrong type or is unknown.
 * @throws {RangeError} When a number is out of range.
 */
export function redisSink<T = unknown>(options: RedisSinkOptions<T>): RedisSink<T> {
  if (options === undefined) check.invalid(WHERE, 'options', 'an object with a stream', options);
  const opts = check.options(WHERE, options, 'options', KEYS);
  if (typeof opts.stream !== 'string' || opts.stream === '') check.invalid(WHERE, 'options.stream', 'a non-empty string', opts.stream);
  const encode = opts.encode === undefined ? undefined : check.func<(item: T) => RedisFieldValues>(WHERE, 'options.encode', opts.encode);
  const maxLen = opts.maxLen === undefined ? undefined : check.integer(WHERE, 'options.maxLen', opts.maxLen, 1);
  const stage = stageOptions(WHERE, { ...opts, highWaterMark: opts.highWaterMark ?? 128 });
  return new RedisSink<T>(opts.stream, encode, maxLen, new Connection(WHERE, connectionOptions(WHERE, opts)), stage);
}
