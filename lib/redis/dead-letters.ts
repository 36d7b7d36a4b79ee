// The dead-letter side of a consumer group's source: records written to the dead-letter stream (the
// entry's fields plus `error`, `deliveries`, `group`, `entry-id`), and the notes that say why a
// released entry failed, kept in Redis until the entry comes back past `maxDeliveries`.
import type { Connection, RawEntry } from './connection.js';

/** How long the note of why an entry failed (`release(id, error)`) is kept for its dead-letter record. */
const NOTE_TTL = 7 * 24 * 3600 * 1000;

/** An error as a dead-letter record gives it: `Name: message`. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export class DeadLetters {
  readonly #conn: Connection;
  readonly #stream: string;
  readonly #group: string;
  readonly #maxDeliveries: number;

  constructor(conn: Connection, opts: { deadLetter: string; group: string; maxDeliveries: number }) {
    this.#conn = conn;
    this.#stream = opts.deadLetter;
    this.#group = opts.group;
    this.#maxDeliveries = opts.maxDeliveries;
  }

  /** Writes the record of `entry`, which failed with `error` after `deliveries` deliveries. */
  async write([id, flat]: RawEntry, error: string, deliveries: number): Promise<void> {
    const args = [
      'XADD',
      this.#stream,
      '*',
      ...(flat ?? []).map(String),
      'error',
      error,
      'deliveries',
      String(deliveries),
      'group',
      this.#group,
      'entry-id',
      id,
    ];
    await this.#conn.run('XADD', this.#stream, () => this.#conn.main.sendCommand(args));
  }

  /** Notes why the entry `id` failed, for its record should it come back too often; best effort. */
  note(id: string, error: unknown): void {
    const key = this.#noteKey(id);
    void this.#conn.run('SET', key, () => this.#conn.main.sendCommand(['SET', key, describeError(error), 'PX', String(NOTE_TTL)])).catch(() => {});
  }

  /**
   * Writes the record of an entry delivered too often, with the error noted for it (or says so), and
   * then, once `ack()` acknowledged it, drops the note: a crash in between gives a duplicate record,
   * never a lost entry.
   */
  async expire(entry: RawEntry, deliveries: number, ack: () => Promise<void>): Promise<void> {
    const key = this.#noteKey(entry[0]);
    const note = await this.#conn.run('GET', key, () => this.#conn.main.sendCommand(['GET', key]));
    const error = typeof note === 'string' ? note : `delivered ${deliveries} times without being acknowledged (maxDeliveries ${this.#maxDeliveries})`;
    await this.write(entry, error, deliveries);
    await ack();
    if (note !== null) await this.#conn.run('DEL', key, () => this.#conn.main.sendCommand(['DEL', key]));
  }

  #noteKey(id: string): string {
    return `${this.#stream}:error:${this.#group}:${id}`;
  }
}
