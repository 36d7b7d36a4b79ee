// What --from and --to take: a Redis stream's URL, and the flags of a Redis input, checked. No Redis
// client here: args.ts parses the command line with these, and redis.ts (which loads the client) is
// imported only when a flag names a Redis stream.
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
