// --from / --to redis://HOST:PORT[/DB]/STREAM: a Redis stream as the command's input or output, built
// from 'sluice/redis' only. main.ts loads this module (and with it the Redis client) only when one of
// those flags names a Redis stream.
import type { Duplex } from 'node:stream';
import { filter } from '../index.js';
import { redisSink, redisSource, type RedisEntry, type RedisSink, type RedisSource } from '../redis/index.js';
import type { RedisInputOptions, RedisTarget } from './redis-target.js';

export { isRedisTarget, parseRedisTarget, redisInputOptions, type RedisInputFlags, type RedisInputOptions, type RedisTarget } from './redis-target.js';

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
  /**
   * --take has all it needs: drains, and from now on `gate` gives the entries still coming back to
   * the group unprocessed (not acknowledged: another consumer takes them after --claim-idle, this
   * one at once when started again). Those already past it are run, and then acknowledged.
   */
  stop(): void;
  /** With --take, the stage right after the source: passes entries on until `stop()`. */
  gate(): Duplex;
  /** Runs until signalled (a group, or --follow) rather than ending with the stream's last entry. */
  endless: boolean;
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
  let stopped = false;
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
    stop() {
      stopped = true;
      source.drain();
    },
    gate: () =>
      filter(
        (item: RedisEntry<string>) => {
          if (!stopped) return true;
          if (o.group !== undefined) source.release(item.id);
          return false;
        },
        { name: 'take gate' },
      ),
    endless: o.group !== undefined || o.follow,
  };
}

/** The command's output to a Redis stream: each output line (a string) one entry, field `data`. */
export function redisOutput(target: RedisTarget): RedisSink<string> {
  return redisSink<string>({ url: target.url, stream: target.stream });
}
