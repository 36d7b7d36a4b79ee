// redisSource()'s options: what they are (documented for users), and how they are checked and
// completed with their defaults when a source is made.
import { hostname } from 'node:os';
import { stageOptions, type StageOptions } from '../internal/stage-options.js';
import * as check from '../internal/validate.js';
import { CONNECTION_KEYS, connectionOptions, type ConnectionOptions } from './connection.js';

/** An entry's fields, as Redis stores them: field names to values. */
export type RedisFields = Record<string, string>;

/** An item of a source made with `withIds: true`: the entry's id and what `decode` made of it. */
export interface RedisEntry<T> {
  /** The entry's id in the stream, e.g. `'1700000000000-0'`: what `deadLetter()` and `release()` take. */
  id: string;
  data: T;
}

/** Options for {@link redisSource}. */
export interface RedisSourceOptions<T> extends ConnectionOptions, Pick<StageOptions, 'highWaterMark' | 'signal'> {
  /** The stream's key. Required. */
  stream: string;
  /**
   * The consumer group to read through (created with `MKSTREAM` if missing). Without it, the stream
   * is read with plain `XREAD`: no acknowledgements, no claims.
   * @default undefined
   */
  group?: string;
  /**
   * This reader's name in the group: unique among the readers running at once, and the same after a
   * restart, so that a restarted reader takes its own unacknowledged entries back at once. Group only.
   * @default os.hostname()
   */
  consumer?: string;
  /**
   * Where reading starts. With `group`: where a group created now starts, `'0'` (the whole stream, a
   * backlog included) or `'$'` (entries added from now on); an existing group keeps its position.
   * Without: the id after which `XREAD` starts, `'0'` or `'$'`.
   * @default '0'
   */
  start?: string;
  /** Entries asked for per read (`COUNT`). @default 100 */
  count?: number;
  /** Milliseconds a read waits for new entries (`BLOCK`) before it asks again. @default 5000 */
  block?: number;
  /**
   * Entries delivered and not yet acknowledged, at most: the source reads only while fewer are out.
   * Also the most entries a crash can process twice. Group only.
   * @default 1000
   */
  maxInFlight?: number;
  /**
   * Milliseconds an entry of another consumer must have been idle (delivered and not acknowledged)
   * before this one claims it: a consumer that died leaves its entries to the others after this
   * long. The source keeps its own entries from looking idle by claiming them again every
   * `claimIdle / 3` ms while they are in flight. Group only.
   * @default 30000
   */
  claimIdle?: number;
  /**
   * An entry delivered this many times without being acknowledged goes to the dead-letter stream on
   * its next delivery instead of into the pipeline. `Infinity`: never. Group only.
   * @default 5
   */
  maxDeliveries?: number;
  /** The dead-letter stream. Group only. @default `${stream}:dlq` */
  deadLetter?: string;
  /**
   * Without `group`: go on reading new entries after the last one (until `drain()` or destroy).
   * Unset, the source ends with the entry that was last when it started.
   * @default false
   */
  follow?: boolean;
  /**
   * Makes the item from an entry's fields and id; an `undefined` or `null` result drops the entry
   * (it counts as done). Errors it throws destroy the source (the entry is delivered again later).
   * @default the `data` field as a string, or all the fields when there is no `data` field
   */
  decode?: (fields: RedisFields, id: string) => T;
  /**
   * Items are `{ id, data }` ({@link RedisEntry}) instead of the decoded value, so that the code
   * handling a failing item knows which entry to `deadLetter()` or `release()`.
   * @default false
   */
  withIds?: boolean;
}

export const WHERE = 'redisSource()';
const KEYS = [
  ...CONNECTION_KEYS,
  'highWaterMark',
  'signal',
  'stream',
  'group',
  'consumer',
  'start',
  'count',
  'block',
  'maxInFlight',
  'claimIdle',
  'maxDeliveries',
  'deadLetter',
  'follow',
  'decode',
  'withIds',
] as const;
const GROUP_ONLY = ['consumer', 'maxInFlight', 'claimIdle', 'maxDeliveries', 'deadLetter'] as const;

/** The options, checked and with their defaults. */
export interface ResolvedSourceOptions {
  group: string | undefined;
  consumer: string;
  start: string;
  count: number;
  block: number;
  maxInFlight: number;
  claimIdle: number;
  maxDeliveries: number;
  deadLetter: string;
  follow: boolean;
  decode: ((fields: RedisFields, id: string) => unknown) | undefined;
  withIds: boolean;
}

const ID = /^(0|\$|\d+(-\d+)?)$/;

/** Checks redisSource()'s options and completes them with their defaults. */
export function resolveSourceOptions<T>(options: RedisSourceOptions<T>): {
  stream: string;
  resolved: ResolvedSourceOptions;
  connection: ReturnType<typeof connectionOptions>;
  stage: ReturnType<typeof stageOptions>;
} {
  if (options === undefined) check.invalid(WHERE, 'options', 'an object with a stream', options);
  const opts = check.options(WHERE, options, 'options', KEYS);
  const stream = nonEmpty('options.stream', opts.stream);
  const group = opts.group === undefined ? undefined : nonEmpty('options.group', opts.group);
  if (group === undefined) {
    for (const key of GROUP_ONLY) if (opts[key] !== undefined) throw new TypeError(`${WHERE}: options.${key} needs options.group`);
  } else if (opts.follow !== undefined) {
    throw new TypeError(`${WHERE}: options.follow is for reading without options.group (a group always follows)`);
  }
  const start = opts.start === undefined ? '0' : check.string(WHERE, 'options.start', opts.start);
  if (!ID.test(start)) check.invalid(WHERE, 'options.start', `'0', '$' or an entry id`, start);
  const count = opts.count === undefined ? 100 : check.integer(WHERE, 'options.count', opts.count, 1);
  const resolved: ResolvedSourceOptions = {
    group,
    consumer: opts.consumer === undefined ? hostname() : nonEmpty('options.consumer', opts.consumer),
    start,
    count,
    block: opts.block === undefined ? 5000 : check.delay(WHERE, 'options.block', opts.block),
    maxInFlight: opts.maxInFlight === undefined ? Math.max(1000, count) : check.integer(WHERE, 'options.maxInFlight', opts.maxInFlight, 1),
    claimIdle: opts.claimIdle === undefined ? 30_000 : check.delay(WHERE, 'options.claimIdle', opts.claimIdle),
    maxDeliveries: opts.maxDeliveries === undefined ? 5 : check.integer(WHERE, 'options.maxDeliveries', opts.maxDeliveries, 1, true),
    deadLetter: opts.deadLetter === undefined ? `${stream}:dlq` : nonEmpty('options.deadLetter', opts.deadLetter),
    follow: opts.follow === undefined ? false : check.boolean(WHERE, 'options.follow', opts.follow),
    decode: opts.decode === undefined ? undefined : check.func<(fields: RedisFields, id: string) => unknown>(WHERE, 'options.decode', opts.decode),
    withIds: opts.withIds === undefined ? false : check.boolean(WHERE, 'options.withIds', opts.withIds),
  };
  const stage = stageOptions(WHERE, opts);
  return { stream, resolved, connection: connectionOptions(WHERE, opts), stage };
}

function nonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') check.invalid(WHERE, name, 'a non-empty string', value);
  return value;
}
