import { Readable } from 'node:stream';
import { Checkpoint, usesCheckpoints } from '../internal/checkpoint.js';
import { bindSignal, failWith, type stageOptions } from '../internal/stage-options.js';
import { Connection, fieldsOf, type RawEntry } from './connection.js';
import { Reads } from './reads.js';
import { DeadLetters, describeError } from './dead-letters.js';
import { RedisError } from './errors.js';
import { resolveSourceOptions, WHERE, type RedisEntry, type RedisFields, type RedisSourceOptions, type ResolvedSourceOptions } from './source-options.js';

/** One read's entries, acknowledged together once the checkpoint pushed after them is resolved. */
class Batch {
  /** Deliveries per entry, when they were counted (redeliveries); a first delivery is 1. */
  deliveries: Map<string, number> | undefined;
  /** Ids not to acknowledge: released, or whose dead-letter write failed. */
  skip: Set<string> | undefined;
  /** Ids whose dead-letter write is under way: not acknowledged before it succeeded. */
  dying: Set<string> | undefined;
  /** Those writes, to wait for before the acknowledgement. */
  writes: Promise<void>[] | undefined;
  /** Its checkpoint was resolved: it is being (or was) acknowledged. */
  done = false;

  constructor(readonly entries: RawEntry[]) {}
}

/**
 * The Readable behind {@link redisSource}.
 *
 * State, for a reader. Reading: `#loop` runs while `_read` asked for more (`#wanted`) and fewer than
 * `maxInFlight` entries are out (`#inFlight` delivered and not yet acknowledged, plus `#reserved`
 * asked for by reads and claims under way); what each read asks Redis for, and from where, is
 * `#reads`' (reads.ts), dead-letter records `#dead`'s (dead-letters.ts). Acknowledging: each delivered batch is in `#open` until acknowledged; its
 * checkpoint puts it in `#toAck`, and `#flush` sends one XACK for everything there. A timer
 * (`#timer`, every `claimIdle / 3` ms) claims the open entries again as a heartbeat and, when there is
 * room, claims idle entries of others (`XAUTOCLAIM` from `#claimCursor`). `drain()` sets `#draining`:
 * no more reads or claims, and the stream ends once `#inFlight` is 0.
 */
export class RedisSource<T = unknown> extends Readable {
  readonly #o: ResolvedSourceOptions;
  readonly #stream: string;
  readonly #conn: Connection;
  /** With a group: its dead-letter records and notes. */
  readonly #dead: DeadLetters | undefined;
  readonly #reads: Reads;
  #claimCursor = '0-0';
  #wanted = false;
  #reading = false;
  #claiming = false;
  #acking = 0;
  #reserved = 0;
  #inFlight = 0;
  readonly #open = new Set<Batch>();
  #toAck: Batch[] = [];
  #draining = false;
  #ended = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #counts = { delivered: 0, acked: 0, redelivered: 0, claimed: 0, deadLettered: 0, released: 0 };

  constructor(stream: string, options: ResolvedSourceOptions, connection: Connection, stage: ReturnType<typeof stageOptions>) {
    super({ objectMode: true, highWaterMark: stage.readableHighWaterMark });
    this.#stream = stream;
    this.#o = options;
    this.#conn = connection;
    this.#reads = new Reads(connection, stream, options);
    this.#dead = options.group === undefined ? undefined : new DeadLetters(connection, { ...options, group: options.group });
    bindSignal(this, stage.signal);
  }

  /** With a group, it writes checkpoints after each batch: the end of the pipeline resolves them, then it acknowledges. */
  get [usesCheckpoints](): boolean {
    return this.#o.group !== undefined;
  }

  /** Entries passed on into the pipeline (first deliveries, redeliveries and claims). */
  get delivered(): number {
    return this.#counts.delivered;
  }

  /** Entries acknowledged (XACK confirmed), dead-lettered ones included. */
  get acked(): number {
    return this.#counts.acked;
  }

  /** Entries passed on that had been delivered before (this consumer's own pending ones at start, and claims). */
  get redelivered(): number {
    return this.#counts.redelivered;
  }

  /** Entries taken over from idle consumers (`XAUTOCLAIM`). */
  get claimed(): number {
    return this.#counts.claimed;
  }

  /** Entries written to the dead-letter stream (by `deadLetter()`, or after `maxDeliveries`). */
  get deadLettered(): number {
    return this.#counts.deadLettered;
  }

  /** Entries given back with `release()`. */
  get released(): number {
    return this.#counts.released;
  }

  /** Entries delivered and not yet acknowledged (or released). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Stops reading (a blocked read is cut short with `CLIENT UNBLOCK`, or ends within `block` ms),
   * lets every entry already delivered go through the pipeline, acknowledges them, and then ends,
   * so that the pipeline resolves. Without a group it just stops reading and ends.
   */
  drain(): void {
    if (this.#draining || this.destroyed) return;
    this.#draining = true;
    this.#reads.stop();
    this.#maybeEnd();
  }

  /**
   * Writes the entry `id` (one in flight) to the dead-letter stream with `error` at once; it is then
   * acknowledged with its batch, once that write succeeded and the pipeline is done with the batch.
   * If the write fails, the source fails with that error and the entry stays pending. Call it while
   * the item is being processed (from an `onError` handler, say); it returns `undefined`, so that
   * such a handler can return its result: the item is dropped.
   * @throws {RangeError} When no entry `id` is in flight, or its batch is acknowledged already.
   */
  deadLetter(id: string, error: unknown): undefined {
    const [batch, entry] = this.#find(id, 'deadLetter');
    if (batch.skip?.has(id) || batch.dying?.has(id)) return undefined;
    (batch.dying ??= new Set()).add(id);
    const write = this.#dead!.write(entry, describeError(error), batch.deliveries?.get(id) ?? 1).then(
      () => {
        batch.dying!.delete(id);
        this.#counts.deadLettered++;
      },
      (failure: unknown) => {
        batch.dying!.delete(id);
        (batch.skip ??= new Set()).add(id);
        failWith(this, failure);
      },
    );
    (batch.writes ??= []).push(write);
    return undefined;
  }

  /**
   * Gives the entry `id` (one in flight) back to the group without acknowledging it: it is no longer
   * kept alive by this source, so after `claimIdle` ms a consumer (this one included) claims it and
   * tries again; after `maxDeliveries` deliveries it is dead-lettered, with `error` (kept in Redis
   * for 7 days under `<deadLetter>:error:<group>:<id>`) as the reason. Call it while the item is
   * being processed; it returns `undefined`, as `deadLetter()` does.
   * @throws {RangeError} When no entry `id` is in flight, or its batch is acknowledged already.
   */
  release(id: string, error?: unknown): undefined {
    const [batch] = this.#find(id, 'release');
    if (batch.skip?.has(id)) return undefined;
    (batch.skip ??= new Set()).add(id);
    this.#counts.released++;
    if (error !== undefined) this.#dead!.note(id, error);
    return undefined;
  }

  /**
   * The items one at a time, for a `for await` loop: each batch is acknowledged when the loop asks
   * for the item after its last one, so the loop body must have finished its work by then. (Iterating
   * the stream itself yields the checkpoints too; a pipeline of sluice stages handles them.)
   */
  async *items(): AsyncGenerator<T, void, undefined> {
    for await (const item of this) {
      if (item instanceof Checkpoint) item.resolve();
      else yield item as T;
    }
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.#start().then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  override _read(): void {
    this.#wanted = true;
    this.#kick();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#ended = true;
    clearTimeout(this.#timer);
    // Batches the pipeline is done with are acknowledged even now: that is never wrong, and fewer
    // entries come back. close() lets the XACK sent here finish.
    if (this.#toAck.length > 0 && !this.#conn.closed) void this.#flush().catch(() => {});
    this.#conn.close().then(
      () => callback(error),
      () => callback(error),
    );
  }

  async #start(): Promise<void> {
    const { group, start } = this.#o;
    const conn = this.#conn;
    await conn.open();
    if (group !== undefined) {
      try {
        await conn.run('XGROUP CREATE', this.#stream, () => conn.main.sendCommand(['XGROUP', 'CREATE', this.#stream, group, start, 'MKSTREAM']));
      } catch (error) {
        // The group exists: it keeps its position.
        if (!(error instanceof RedisError && /BUSYGROUP/.test(errorMessage(error.cause)))) throw error;
      }
      // Drained (ended) already while connecting: no heartbeat to keep.
      if (!this.#ended) this.#timer = setTimeout(this.#tick, this.#o.claimIdle / 3);
      return;
    }
    await this.#reads.start();
  }

  /** Starts the read loop when it is not running and may read. */
  #kick(): void {
    if (!this.#reading && this.#mayRead()) void this.#loop();
  }

  #room(): number {
    return this.#o.group === undefined ? this.#o.count : this.#o.maxInFlight - this.#inFlight - this.#reserved;
  }

  #mayRead(): boolean {
    return this.#wanted && !this.#draining && !this.#ended && !this.destroyed && this.#room() > 0;
  }

  async #loop(): Promise<void> {
    this.#reading = true;
    try {
      let next = this.#mayRead() ? this.#read() : undefined;
      while (next !== undefined) {
        const { entries, how, reserved } = await next;
        if (this.destroyed) return;
        // Read ahead: the next batch is on its way while this one goes through the pipeline (the
        // buffer may then hold a batch more than highWaterMark).
        next = this.#mayRead() ? this.#read() : undefined;
        try {
          await this.#deliver(entries, how);
        } finally {
          this.#reserved -= reserved;
        }
        next ??= this.#mayRead() ? this.#read() : undefined;
      }
    } catch (error) {
      failWith(this, error);
    } finally {
      this.#reading = false;
      this.#maybeEnd();
    }
  }

  /** One read of up to `count` entries, within `maxInFlight`: the room it takes stays reserved until they are delivered. */
  #read(): Promise<{ entries: RawEntry[]; how: 'new' | 'pending'; reserved: number }> {
    const n = Math.min(this.#o.count, this.#room());
    this.#reserved += n;
    const { how, entries: reading } = this.#reads.next(n);
    const read = reading.then(
      (entries) => {
        // The end of a stream read without a group: what was delivered goes through, then it ends.
        if (this.#reads.finished) this.#draining = true;
        return { entries, how, reserved: n };
      },
      (error: unknown) => {
        this.#reserved -= n;
        throw error;
      },
    );
    // Awaited by the loop, unless the source is destroyed first.
    read.catch(() => {});
    return read;
  }

  /**
   * Passes a batch on: its items, then a checkpoint for it. Redelivered entries are counted first:
   * those delivered more than `maxDeliveries` times go to the dead-letter stream instead; those that
   * are no longer this consumer's (claimed meanwhile by another) are left alone.
   */
  async #deliver(entries: RawEntry[], how: 'new' | 'pending' | 'claimed'): Promise<void> {
    if (entries.length === 0) return;
    let live = entries;
    let deliveries: Map<string, number> | undefined;
    if (how !== 'new') {
      // Deleted since it was delivered: nothing to do but acknowledge it.
      const gone = entries.filter(([, fields]) => fields === null).map(([id]) => id);
      if (gone.length > 0) await this.#ack(gone);
      live = entries.filter(([, fields]) => fields !== null);
      if (live.length === 0) return;
      deliveries = await this.#deliveries(live);
      const dead = live.filter(([id]) => (deliveries!.get(id) ?? 0) > this.#o.maxDeliveries);
      live = live.filter(([id]) => deliveries!.has(id) && deliveries!.get(id)! <= this.#o.maxDeliveries);
      for (const entry of dead) await this.#expire(entry, deliveries.get(entry[0])!);
      if (this.destroyed || live.length === 0) return;
      this.#counts.redelivered += live.length;
      if (how === 'claimed') this.#counts.claimed += live.length;
    }
    const grouped = this.#o.group !== undefined;
    const batch = new Batch(live);
    batch.deliveries = deliveries;
    if (grouped) {
      this.#inFlight += live.length;
      this.#open.add(batch);
    }
    this.#counts.delivered += live.length;
    const { decode, withIds } = this.#o;
    let full = false;
    for (const [id, flat] of live) {
      const value = decode === undefined ? defaultDecode(flat!) : decode(fieldsOf(flat!), id);
      if (value === undefined || value === null) continue;
      if (!this.push(withIds ? { id, data: value } : value)) full = true;
    }
    if (grouped && !this.push(new Checkpoint(() => this.#done(batch)))) full = true;
    if (full) this.#wanted = false;
  }

  /** How many times each of `entries` was delivered, for those pending for this consumer. */
  async #deliveries(entries: RawEntry[]): Promise<Map<string, number>> {
    const { group, consumer } = this.#o;
    const first = entries[0]![0];
    const last = entries[entries.length - 1]![0];
    // Entries in flight may lie between them: room for those too.
    const args = ['XPENDING', this.#stream, group!, first, last, String(entries.length + this.#o.maxInFlight), consumer];
    const reply = (await this.#conn.run('XPENDING', this.#stream, () => this.#conn.main.sendCommand(args))) as [string, string, number, number][];
    return new Map(reply.map(([id, , , count]) => [String(id), Number(count)]));
  }

  /** An entry delivered too often: to the dead-letter stream (with the error noted for it, if any), then acknowledged. */
  async #expire(entry: RawEntry, deliveries: number): Promise<void> {
    await this.#dead!.expire(entry, deliveries, async () => {
      this.#counts.deadLettered++;
      await this.#ack([entry[0]]);
    });
  }

  /** A batch's checkpoint was resolved: everything derived from it is done. Acknowledged in one XACK with the others resolved in the same tick. */
  #done(batch: Batch): void {
    batch.done = true;
    if (this.#toAck.push(batch) === 1) queueMicrotask(() => void this.#flush().catch((error: unknown) => failWith(this, error)));
  }

  async #flush(): Promise<void> {
    const batches = this.#toAck;
    this.#toAck = [];
    if (batches.length === 0) return;
    this.#acking++;
    try {
      const writes = batches.flatMap((b) => b.writes ?? []);
      // Dead letters first: an entry is acknowledged only once its dead-letter record is written
      // (when destroyed, those still being written are left pending).
      if (writes.length > 0 && !this.#ended) await Promise.all(writes);
      const ids: string[] = [];
      let entries = 0;
      for (const batch of batches) {
        entries += batch.entries.length;
        for (const [id] of batch.entries) if (!batch.skip?.has(id) && !batch.dying?.has(id)) ids.push(id);
      }
      await this.#ack(ids);
      for (const batch of batches) this.#open.delete(batch);
      this.#inFlight -= entries;
    } finally {
      this.#acking--;
    }
    this.#kick();
    this.#maybeEnd();
  }

  async #ack(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const args = ['XACK', this.#stream, this.#o.group!, ...ids];
    await this.#conn.run('XACK', this.#stream, () => this.#conn.main.sendCommand(args));
    this.#counts.acked += ids.length;
  }

  /** Every `claimIdle / 3` ms: keeps the entries in flight from looking idle, and claims idle ones of others. */
  readonly #tick = (): void => {
    this.#timer = undefined;
    this.#claim().then(
      () => {
        if (!this.#ended) this.#timer = setTimeout(this.#tick, this.#o.claimIdle / 3);
      },
      (error: unknown) => failWith(this, error),
    );
  };

  async #claim(): Promise<void> {
    const { group, consumer, claimIdle, count } = this.#o;
    const conn = this.#conn;
    const mine: string[] = [];
    for (const batch of this.#open) for (const [id] of batch.entries) if (!batch.skip?.has(id)) mine.push(id);
    if (mine.length > 0) {
      await conn.run('XCLAIM', this.#stream, () => conn.main.sendCommand(['XCLAIM', this.#stream, group!, consumer, '0', ...mine, 'JUSTID']));
    }
    const n = Math.min(count, this.#room());
    if (!this.#wanted || this.#draining || this.#ended || n <= 0) return;
    this.#claiming = true;
    this.#reserved += n;
    try {
      const args = ['XAUTOCLAIM', this.#stream, group!, consumer, String(claimIdle), this.#claimCursor, 'COUNT', String(n)];
      const reply = (await conn.run('XAUTOCLAIM', this.#stream, () => conn.main.sendCommand(args))) as [string, RawEntry[]];
      this.#claimCursor = String(reply[0]);
      if (!this.destroyed) await this.#deliver(reply[1], 'claimed');
    } finally {
      this.#reserved -= n;
      this.#claiming = false;
    }
    this.#maybeEnd();
  }

  /** Draining, and nothing is left out: ends the stream. */
  #maybeEnd(): void {
    if (!this.#draining || this.#ended || this.destroyed) return;
    if (this.#reading || this.#claiming || this.#acking > 0 || this.#inFlight > 0 || this.#toAck.length > 0) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    this.push(null);
  }

  /** The batch and entry of an item being processed: its checkpoint cannot have passed yet. */
  #find(id: string, what: string): [Batch, RawEntry] {
    for (const batch of this.#open) {
      const entry = batch.entries.find(([entryId]) => entryId === id);
      if (entry === undefined) continue;
      if (batch.done) throw new RangeError(`${WHERE}: ${what}(id): entry ${JSON.stringify(id)} is done already (its batch is acknowledged)`);
      return [batch, entry];
    }
    throw new RangeError(`${WHERE}: ${what}(id): no entry ${JSON.stringify(id)} is in flight`);
  }
}

/** The `data` field when there is one, else all the fields as an object. */
function defaultDecode(flat: unknown[]): unknown {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === 'data') return String(flat[i + 1]);
  return fieldsOf(flat);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Reads a Redis stream as an object-mode Readable. With `group`, it is one consumer of a consumer
 * group, with end-to-end acknowledgements: after each read it writes a checkpoint behind the batch's
 * items, which sluice's stages pass on only once everything before it has left them; the end of the
 * pipeline (`redisSink`, or `pipeline()`) resolves it, and then the batch is acknowledged (one XACK).
 * So an entry is acknowledged only after every item made from it was written by the last stage or
 * dropped by a stage (filtered, skipped): delivery is at least once.
 *
 * On start it first reads this consumer's own pending entries (a restart after a crash), then new
 * ones (`COUNT`, `BLOCK`), only while fewer than `maxInFlight` are unacknowledged and its buffer has
 * room (it asks for the next batch while the last one goes through the pipeline, so the buffer may
 * hold one batch more than `highWaterMark`). It claims entries idle for `claimIdle` ms (of consumers that died), and dead-letters entries
 * delivered more than `maxDeliveries` times. `drain()` ends it gracefully; destroying it (an abort, an
 * error in the pipeline) stops at once, and what was not acknowledged is delivered again later.
 *
 * Without `group` it reads the stream with `XREAD` from `start`, and ends with the entry that was last
 * when it started (or goes on, with `follow: true`).
 *
 * @typeParam T The items.
 * @param options See {@link RedisSourceOptions}.
 * @returns A {@link RedisSource}: a Readable with `drain()`, `deadLetter()`, `release()` and counters.
 * @throws {TypeError} When an option has the wrong type, is unknown, or needs `group`.
 * @throws {RangeError} When a number is out of range.
 */
export function redisSource<T = string | RedisFields>(options: RedisSourceOptions<T> & { withIds: true }): RedisSource<RedisEntry<T>>;
export function redisSource<T = string | RedisFields>(options: RedisSourceOptions<T>): RedisSource<T>;
export function redisSource<T>(options: RedisSourceOptions<T>): RedisSource<T> | RedisSource<RedisEntry<T>> {
  const { stream, resolved, connection, stage } = resolveSourceOptions(options);
  return new RedisSource<T>(stream, resolved, new Connection(WHERE, connection), stage);
}
