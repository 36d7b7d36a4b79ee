// Connections to Redis for the stages of 'sluice/redis': one client for ordinary commands (the
// user's, or one made from a URL) and, for a blocking read, a duplicate of it that nothing else uses.
// Commands that fail because the connection is down are retried, while the client reconnects, for
// `reconnectTimeout` ms; an error reply from Redis is final.
import { createClient } from '@redis/client';
import { MAX_DELAY, sleep } from '../internal/timers.js';
import * as check from '../internal/validate.js';
import { RedisError, RedisUnavailableError } from './errors.js';

/**
 * The part of a node-redis client (`createClient()` of the `redis` or `@redis/client` package, v5 or
 * later) that sluice uses, so that you can pass your own.
 */
export interface RedisClient {
  sendCommand(args: Array<string | Buffer>, options?: { timeout?: number }): Promise<unknown>;
  multi(): { addCommand(args: Array<string | Buffer>): unknown; execAsPipeline(): Promise<unknown> };
  duplicate(): RedisClient;
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
  readonly isOpen: boolean;
}

/** How a stage of 'sluice/redis' reaches Redis. */
export interface ConnectionOptions {
  /**
   * `redis://[[user][:password]@]host[:port][/db]`, or `rediss://…` for TLS. The stage opens its own
   * connections (RESP2) and closes them when it closes. Not with `client`.
   * @default 'redis://localhost:6379'
   */
  url?: string;
  /**
   * A node-redis client to use instead of `url` (connected, or connected by the stage). The stage
   * never closes it; a blocking read gets a `duplicate()` of it, which the stage closes. Give it an
   * `'error'` listener: node-redis throws its connection errors otherwise.
   * @default undefined
   */
  client?: RedisClient;
  /**
   * Milliseconds a command keeps being retried while Redis cannot be reached (the client reconnects
   * meanwhile) before the stage fails with a {@link RedisUnavailableError}. Also the limit for
   * connecting. A blocked read counts as unanswered once its `block` time is over by this much or 1 s, whichever is less.
   * @default 30000
   */
  reconnectTimeout?: number;
}

export const CONNECTION_KEYS = ['url', 'client', 'reconnectTimeout'] as const;

export interface ResolvedConnection {
  url: string | undefined;
  client: RedisClient | undefined;
  reconnectTimeout: number;
}

const DEFAULT_URL = 'redis://localhost:6379';
const BACKOFF_MIN = 50;
const BACKOFF_MAX = 1000;

/** Validates {@link ConnectionOptions}. */
export function connectionOptions(where: string, opts: ConnectionOptions): ResolvedConnection {
  if (opts.url !== undefined && opts.client !== undefined) {
    throw new TypeError(`${where}: options.url and options.client cannot both be given`);
  }
  if (opts.url !== undefined) {
    check.string(where, 'options.url', opts.url);
    let protocol: string | undefined;
    try {
      protocol = new URL(opts.url).protocol;
    } catch {
      // Reported below, with the value.
    }
    if (protocol !== 'redis:' && protocol !== 'rediss:') check.invalid(where, 'options.url', 'a redis:// or rediss:// URL', opts.url);
  }
  const client = opts.client;
  if (client !== undefined) {
    const ok = typeof client === 'object' && client !== null && typeof client.sendCommand === 'function' && typeof client.duplicate === 'function';
    if (!ok) check.invalid(where, 'options.client', 'a node-redis client (createClient())', client);
  }
  return {
    url: client === undefined ? (opts.url ?? DEFAULT_URL) : undefined,
    client,
    reconnectTimeout: opts.reconnectTimeout === undefined ? 30_000 : check.delay(where, 'options.reconnectTimeout', opts.reconnectTimeout),
  };
}

/** A command that did not get an answer in time, from the watchdog on blocking reads. */
class Unanswered extends Error {}

/** Whether Redis answered with an error (node-redis's ErrorReply and its subclasses, from any copy of the package). */
function isErrorReply(error: unknown): boolean {
  for (let p = error === null || typeof error !== 'object' ? null : Object.getPrototypeOf(error); p !== null; p = Object.getPrototypeOf(p)) {
    if ((p as { constructor?: { name?: string } }).constructor?.name === 'ErrorReply') return true;
  }
  return false;
}

/**
 * The clients of one stage. `run()` retries a command through connection failures; `block()` runs a
 * blocking read on the reader with a watchdog; `close()` closes what the stage opened.
 */
export class Connection {
  readonly main: RedisClient;
  readonly #where: string;
  readonly #owned: boolean;
  readonly #timeout: number;
  readonly #stop = new AbortController();
  #reader: RedisClient | undefined;
  #readerId: string | undefined;
  #lastError: Error | undefined;
  #closing: Promise<void> | undefined;

  readonly #onError = (error: Error): void => {
    this.#lastError = error;
  };

  constructor(where: string, opts: ResolvedConnection) {
    this.#where = where;
    this.#timeout = opts.reconnectTimeout;
    this.#owned = opts.client === undefined;
    // RESP2: the reply shapes parsed here; RESP3 clients of the user's are parsed too (see below).
    this.main = opts.client ?? (createClient({ url: opts.url!, RESP: 2 }) as unknown as RedisClient);
    this.main.on('error', this.#onError);
  }

  /** Connects the main client, unless it is open already. */
  async open(): Promise<void> {
    if (!this.main.isOpen) await this.#connect(this.main, 'connect');
  }

  /**
   * Runs `command` (named `name`, on `key`, for messages), retrying while the connection is down; an
   * error reply becomes a {@link RedisError}, and `reconnectTimeout` ms without success a
   * {@link RedisUnavailableError}.
   */
  async run<T>(name: string, key: string, command: () => Promise<T>): Promise<T> {
    let since: number | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        return await command();
      } catch (error) {
        if (isErrorReply(error)) throw new RedisError(this.#where, name, key, error);
        if (this.#stop.signal.aborted) throw error;
        const now = performance.now();
        since ??= now;
        if (now - since >= this.#timeout) throw new RedisUnavailableError(this.#where, name, this.#timeout, this.#lastError ?? error);
        await sleep(Math.min(BACKOFF_MIN * 2 ** attempt, BACKOFF_MAX, this.#timeout), this.#stop.signal);
      }
    }
  }

  /**
   * A blocking command on the reader connection (made on first use), raced against a watchdog of
   * `block` ms plus a margin: a read that a lost connection left hanging fails then, and the reader
   * is replaced.
   */
  async block(args: string[], block: number): Promise<unknown> {
    const reader = this.#reader ?? (await this.#newReader());
    const margin = Math.min(this.#timeout, 1000);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        // No client-side timeout: node-redis's default (5 s) would cut a longer BLOCK.
        reader.sendCommand(args, { timeout: 0 }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Unanswered(`no answer within ${block + margin} ms`)), Math.min(block + margin, MAX_DELAY));
        }),
      ]);
    } catch (error) {
      if (error instanceof Unanswered || !reader.isOpen) this.#dropReader();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends a blocking read in progress at once (it answers as if nothing came), from the main connection. */
  async unblock(): Promise<void> {
    const id = this.#readerId;
    if (id === undefined || this.#stop.signal.aborted) return;
    // Best effort: a read this misses ends within its BLOCK time anyway.
    await this.main.sendCommand(['CLIENT', 'UNBLOCK', id]).catch(() => {});
  }

  /** Closes the reader at once, and the main client if the stage made it (letting commands sent finish). */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  async #close(): Promise<void> {
    this.#stop.abort();
    this.#dropReader();
    if (!this.#owned) {
      this.main.off('error', this.#onError);
      return;
    }
    if (this.main.isOpen) {
      // close() waits for the replies to commands already sent (acks); it would wait for ever on a
      // server that is gone, so destroy() after a while.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.main.close().catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(this.#timeout, 1000))))]);
      clearTimeout(timer);
      if (this.main.isOpen) this.main.destroy();
    }
    this.main.off('error', this.#onError);
  }

  async #newReader(): Promise<RedisClient> {
    const reader = this.main.duplicate();
    reader.on('error', this.#onError);
    this.#reader = reader;
    this.#readerId = undefined;
    await this.#connect(reader, 'connect the reader');
    if (this.#stop.signal.aborted) throw this.#stop.signal.reason;
    this.#readerId = String(await reader.sendCommand(['CLIENT', 'ID']));
    return reader;
  }

  #dropReader(): void {
    const reader = this.#reader;
    if (reader === undefined) return;
    this.#reader = this.#readerId = undefined;
    if (reader.isOpen) reader.destroy();
    reader.off('error', this.#onError);
  }

  /** `client.connect()`, failing after `reconnectTimeout` ms (node-redis would go on retrying for ever). */
  async #connect(client: RedisClient, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const connecting = client.connect();
    try {
      await Promise.race([
        connecting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RedisUnavailableError(this.#where, what, this.#timeout, this.#lastError)), this.#timeout);
        }),
      ]);
    } catch (error) {
      connecting.catch(() => {});
      if (client.isOpen) client.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Replies. RESP2 (the clients made here) gives arrays; a user's RESP3 client gives maps as objects.

/** One stream entry as Redis sends it: its id and its fields as a flat list (null: deleted since it was delivered). */
export type RawEntry = [id: string, fields: unknown[] | null];

/** The entries of an XREAD / XREADGROUP reply for one stream (none for a null reply). */
export function entriesOf(reply: unknown): RawEntry[] {
  if (reply === null || reply === undefined) return [];
  if (Array.isArray(reply)) return (reply[0] as [unknown, RawEntry[]] | undefined)?.[1] ?? [];
  const values = reply instanceof Map ? [...reply.values()] : Object.values(reply as object);
  return (values[0] as RawEntry[] | undefined) ?? [];
}

/** A flat `[field, value, …]` list as an object. */
export function fieldsOf(flat: readonly unknown[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = String(flat[i + 1]);
  return fields;
}

/** A reply that is a record: a flat `[key, value, …]` list (RESP2), an object or a Map (RESP3). */
export function recordOf(reply: unknown): Record<string, unknown> {
  if (Array.isArray(reply)) {
    const record: Record<string, unknown> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) record[String(reply[i])] = reply[i + 1];
    return record;
  }
  if (reply instanceof Map) return Object.fromEntries(reply);
  return (reply ?? {}) as Record<string, unknown>;
}

/** A stream id (`ms-seq`, or `ms`) as its two numbers. */
function idParts(id: string): [bigint, bigint] {
  const [ms = '0', seq = '0'] = id.split('-');
  return [BigInt(ms), BigInt(seq)];
}

/** Compares two stream ids numerically: negative when `a` comes first. */
export function compareIds(a: string, b: string): number {
  const [am, as] = idParts(a);
  const [bm, bs] = idParts(b);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

const MAX_SEQ = 2n ** 64n - 1n;

/** The smallest id greater than `id`. */
export function nextId(id: string): string {
  const [ms, seq] = idParts(id);
  return seq === MAX_SEQ ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}
