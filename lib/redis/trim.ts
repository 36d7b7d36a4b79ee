import * as check from '../internal/validate.js';
import { CONNECTION_KEYS, compareIds, Connection, connectionOptions, nextId, recordOf, type ConnectionOptions } from './connection.js';
import { RedisError } from './errors.js';

/** Options for {@link trimStream}. */
export interface TrimStreamOptions extends ConnectionOptions {
  /** The stream's key. Required. */
  stream: string;
}

/** What {@link trimStream} did. */
export interface TrimResult {
  /** Entries older than this id were removed; undefined when the stream has no consumer group (nothing was removed). */
  minId: string | undefined;
  /** How many entries were removed. */
  removed: number;
}

const WHERE = 'trimStream()';

/**
 * Removes from a work stream the entries that every consumer group is done with: `XTRIM MINID` below
 * the oldest entry any group still has pending (delivered, not acknowledged) and below the first entry
 * any group has not been delivered yet (after its `last-delivered-id`). Safe to run while consumers
 * work (periodically, say): entries are only ever delivered or acknowledged forward. A group created
 * from an old id while this runs may find those entries gone. A stream with no group is left alone.
 *
 * @param options The stream, and how to reach Redis. See {@link TrimStreamOptions}.
 * @returns What was removed, see {@link TrimResult}.
 * @throws {TypeError} (synchronously) When an option has the wrong type or is unknown.
 * @throws {RedisError} When Redis refuses a command (the key is not a stream).
 * @throws {RedisUnavailableError} When Redis cannot be reached for `reconnectTimeout` ms.
 */
export function trimStream(options: TrimStreamOptions): Promise<TrimResult> {
  if (options === undefined) check.invalid(WHERE, 'options', 'an object with a stream', options);
  const opts = check.options(WHERE, options, 'options', [...CONNECTION_KEYS, 'stream']);
  const stream = opts.stream;
  if (typeof stream !== 'string' || stream === '') check.invalid(WHERE, 'options.stream', 'a non-empty string', stream);
  return trim(new Connection(WHERE, connectionOptions(WHERE, opts)), stream);
}

async function trim(conn: Connection, stream: string): Promise<TrimResult> {
  const send = (args: string[]): Promise<unknown> => conn.run(args[0]!, stream, () => conn.main.sendCommand(args));
  try {
    await conn.open();
    let groups: Record<string, unknown>[];
    try {
      groups = ((await send(['XINFO', 'GROUPS', stream])) as unknown[]).map(recordOf);
    } catch (error) {
      // No such key: nothing to trim.
      if (error instanceof RedisError && /no such key/i.test(String((error.cause as Error | undefined)?.message))) return { minId: undefined, removed: 0 };
      throw error;
    }
    let minId: string | undefined;
    for (const group of groups) {
      let bound = nextId(String(group['last-delivered-id']));
      if (Number(group['pending']) > 0) {
        const [, oldest] = (await send(['XPENDING', stream, String(group['name'])])) as [number, string | null];
        if (oldest !== null && oldest !== undefined && compareIds(String(oldest), bound) < 0) bound = String(oldest);
      }
      if (minId === undefined || compareIds(bound, minId) < 0) minId = bound;
    }
    if (minId === undefined) return { minId, removed: 0 };
    const removed = Number(await send(['XTRIM', stream, 'MINID', minId]));
    return { minId, removed };
  } finally {
    await conn.close();
  }
}
