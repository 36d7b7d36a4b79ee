// --from / --to redis://HOST:PORT[/DB]/STREAM: a Redis stream as the command's input or output, built
// from 'sluice/redis' only. main.ts loads this module (and with it the Redis client) only when one of
// those flags names a Redis stream.
import { redisSink, redisSource, type RedisEntry, type RedisSink, type RedisSource } from '../redis/index.js';
import { UsageError } from './errors.js';

/** Where --from reads or --to writes: a connection URL and a stream's key. */
export interface RedisTarget {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`), without the stream. */
  url: string;
  stream: string;
}

/** The flags of a Redis input, as util.parseArgs gives them. */
export interface RedisInputFlags {
  group?: string | undefined;
  consumer?: string | undefined;
  follow?: boolean | undefined;
  start?: string | undefined;
  'claim-idle'?: string | undefined;
  'max-deliveries'?: string | undefined;
  'dead-letter'?: string | undefined;
}

/** Those flags, checked. */
export interface RedisInputOptions {
  group: string | undefined;
  consumer: string | undefined;
  follow: boolean;
  start: 'new' | 'all';
  claimIdle: number | undefined;
  maxDeliveries: number | undefined;
  deadLetter: string | undefined;
}

/** What the command reads from a Redis stream. */
export interface RedisInput {
  /** The first stage: one item ({@link RedisEntry}) per entry. */
  source: RedisSource<RedisEntry<string>>;
  /** The first step of the chain after it: an entry's item as the input line (its `data` field, or its fields as JSON). */
  line(item: RedisEntry<string>): string;
  /** Where an item came from, for messages as FILE:LINE is: `STREAM@ID`; undefined for what is not an entry's item. */
  locate(item: unknown): string | undefined;
  /**
   * --skip-errors: writes the entry an item (written into the chain) came from to the dead-letter
   * stream with `error`, then it is acknowledged. False when `item` is not an entry's (an error after
   * --batch/--rate/--take): then nothing is written, and dropping it acknowledges its entry.
   */
  deadLetter(item: unknown, error: unknown): boolean;
  /**
   * Without --skip-errors, before the run stops: notes `error` for the entry `item` came from, which
   * stays pending, so that its dead-letter record after --max-deliveries says why. False when `item`
   * is not an entry's.
   */
  noteFailure(item: unknown, error: unknown): boolean;
  /** The first SIGINT/SIGTERM: stop reading, finish and acknowledge what is in flight, then end. */
  drain(): void;
  /** Runs until signalled (a group, or --follow) rather than ending with the stream's last entry. */
  endless: boolean;
}

const SCHEMES = new Set(['redis:', 'rediss:']);

/** Whether a --from/--to value names a Redis stream. */
export function isRedisTarget(text: string): boolean {
  return /^rediss?:\/\//i.test(text);
}

/**
 * `redis://[user:password@]HOST[:PORT][/DB]/STREAM` (`rediss://` for TLS): the last path segment is
 * the stream (percent-encoded if it holds a `/`), a number before it the database.
 * @throws {UsageError} Naming `flag`, when the text is not such a URL.
 */
export function parseRedisTarget(flag: string, text: string): RedisTarget {
  const usage = (why: string): UsageError => new UsageError(`${flag} ${JSON.stringify(text)}: ${why}; expected redis://HOST:PORT[/DB]/STREAM`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage('not a URL');
  }
  if (!SCHEMES.has(url.protocol)) throw usage('not a redis:// or rediss:// URL');
  if (url.hostname === '') throw usage('no host');
  if (url.search !== '' || url.hash !== '') throw usage('no ?query or #fragment is taken');
  const segments = url.pathname.split('/').slice(1);
  if (segments.length === 0 || segments.length > 2 || segments.at(-1) === '') throw usage('no stream');
  const db = segments.length === 2 ? segments[0]! : undefined;
  if (db !== undefined && !/^\d+$/.test(db)) throw usage(`the database must be a number, got ${JSON.stringify(db)}`);
  const stream = decodeURIComponent(segments.at(-1)!);
  const auth = url.username === '' && url.password === '' ? '' : `${url.username}${url.password === '' ? '' : `:${url.password}`}@`;
  return { url: `${url.protocol}//${auth}${url.host}${db === undefined ? '' : `/${db}`}`, stream };
}

function positive(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} must be a whole number >= 1, got ${JSON.stringify(text)}`);
  return n;
}

/**
 * Checks the Redis input flags: --consumer, --claim-idle, --max-deliveries and --dead-letter need
 * --group; --follow is for reading without one (a group always follows); --start is `new` or `all`.
 * @throws {UsageError} Naming the flag.
 */
export function redisInputOptions(flags: RedisInputFlags): RedisInputOptions {
  const group = flags.group;
  if (group === '') throw new UsageError('--group must not be empty');
  if (group === undefined) {
    for (const flag of ['consumer', 'claim-idle', 'max-deliveries', 'dead-letter'] as const) {
      if (flags[flag] !== undefined) throw new UsageError(`--${flag} needs --group`);
    }
  } else if (flags.follow === true) {
    throw new UsageError('--follow is for --from without --group (a consumer group always follows)');
  }
  const start = flags.start ?? 'all';
  if (start !== 'new' && start !== 'all') throw new UsageError(`--start must be new or all, got ${JSON.stringify(start)}`);
  for (const flag of ['consumer', 'dead-letter'] as const) if (flags[flag] === '') throw new UsageError(`--${flag} must not be empty`);
  return {
    group,
    consumer: flags.consumer,
    follow: flags.follow === true,
    start,
    claimIdle: positive('--claim-idle', flags['claim-idle']),
    maxDeliveries: positive('--max-deliveries', flags['max-deliveries']),
    deadLetter: flags['dead-letter'],
  };
}

function isEntry(item: unknown): item is RedisEntry<string> {
  return typeof item === 'object' && item !== null && typeof (item as RedisEntry<unknown>).id === 'string' && 'data' in item;
}

/** The command's input from a Redis stream: entries' `data` fields as lines. */
export function redisInput(target: RedisTarget, o: RedisInputOptions): RedisInput {
  const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } => (value === undefined ? {} : ({ [key]: value } as { [P in K]?: V }));
  const source = redisSource<string>({
    url: target.url,
    stream: target.stream,
    start: o.start === 'new' ? '$' : '0',
    withIds: true,
    decode: (fields) => fields['data'] ?? JSON.stringify(fields),
    ...(o.group === undefined
      ? { follow: o.follow }
      : {
          group: o.group,
          ...optional('consumer', o.consumer),
          ...optional('claimIdle', o.claimIdle),
          ...optional('maxDeliveries', o.maxDeliveries),
          ...optional('deadLetter', o.deadLetter),
        }),
  });
  return {
    source,
    line: (item) => item.data,
    locate: (item) => (isEntry(item) ? `${target.stream}@${item.id}` : undefined),
    deadLetter(item, error) {
      if (!isEntry(item) || o.group === undefined) return false;
      source.deadLetter(item.id, error);
      return true;
    },
    noteFailure(item, error) {
      if (!isEntry(item) || o.group === undefined) return false;
      source.release(item.id, error);
      return true;
    },
    drain: () => source.drain(),
    endless: o.group !== undefined || o.follow,
  };
}

/** The command's output to a Redis stream: each output line (a string) one entry, field `data`. */
export function redisOutput(target: RedisTarget): RedisSink<string> {
  return redisSink<string>({ url: target.url, stream: target.stream });
}
