// How a source reads its stream, and where it is. With a group: first this consumer's own pending
// entries (a restart after a crash) from `#cursor`, then new ones (`>`, blocking). Without: XREAD from
// `start`, up to the entry that was last when it started (`#end`), or on and on with `follow`.
import { compareIds, type Connection, entriesOf, type RawEntry } from './connection.js';
import type { ResolvedSourceOptions } from './source-options.js';

export class Reads {
  readonly #conn: Connection;
  readonly #stream: string;
  readonly #o: ResolvedSourceOptions;
  #phase: 'pending' | 'new' = 'pending';
  #cursor = '0';
  /** Without a group and `follow`: the last entry to read (undefined: read until stopped). */
  #end: string | undefined;
  #blocking = false;
  #stopped = false;
  /** Without a group and `follow`: the read reached `#end`. */
  #finished = false;

  constructor(conn: Connection, stream: string, options: ResolvedSourceOptions) {
    this.#conn = conn;
    this.#stream = stream;
    this.#o = options;
  }

  /** There is nothing more to read: the stream's end, as it was at the start, was reached. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Without a group: where reading starts, and (without `follow`) where it ends. */
  async start(): Promise<void> {
    const conn = this.#conn;
    const last = async (): Promise<string> => {
      const reply = (await conn.run('XREVRANGE', this.#stream, () => conn.main.sendCommand(['XREVRANGE', this.#stream, '+', '-', 'COUNT', '1']))) as RawEntry[];
      return reply[0]?.[0] ?? '0-0';
    };
    this.#cursor = this.#o.start === '$' ? await last() : this.#o.start;
    if (!this.#o.follow) this.#end = await last();
  }

  /** No more reads: a blocked one is cut short (`CLIENT UNBLOCK`), or gives nothing within `block` ms. */
  stop(): void {
    this.#stopped = true;
    if (this.#blocking) void this.#conn.unblock();
  }

  /** Up to `n` entries, and whether they are this consumer's own pending ones or new. */
  next(n: number): { how: 'new' | 'pending'; entries: Promise<RawEntry[]> } {
    if (this.#o.group === undefined) return { how: 'new', entries: this.#xread(n) };
    return this.#phase === 'pending' ? { how: 'pending', entries: this.#history(n) } : { how: 'new', entries: this.#readNew(n) };
  }

  /** XREAD from `#cursor`; finished at `#end`. */
  async #xread(n: number): Promise<RawEntry[]> {
    const args = ['XREAD', 'COUNT', String(n)];
    const stream = this.#stream;
    const follow = this.#end === undefined;
    const reply = follow
      ? await this.#blocked('XREAD', () => this.#conn.block([...args, 'BLOCK', String(this.#o.block), 'STREAMS', stream, this.#cursor], this.#o.block))
      : await this.#conn.run('XREAD', stream, () => this.#conn.main.sendCommand([...args, 'STREAMS', stream, this.#cursor]));
    let entries = entriesOf(reply);
    if (entries.length > 0) this.#cursor = entries[entries.length - 1]![0];
    if (!follow) {
      const end = this.#end!;
      const past = entries.findIndex(([id]) => compareIds(id, end) > 0);
      if (past !== -1) entries = entries.slice(0, past);
      if (past !== -1 || entries.length === 0 || entries[entries.length - 1]![0] === end) this.#finished = true;
    }
    return entries;
  }

  /** This consumer's own pending entries, from `#cursor`; once there are none left, new ones. */
  async #history(n: number): Promise<RawEntry[]> {
    const { group, consumer } = this.#o;
    const args = ['XREADGROUP', 'GROUP', group!, consumer, 'COUNT', String(n), 'STREAMS', this.#stream, this.#cursor];
    const entries = entriesOf(await this.#conn.run('XREADGROUP', this.#stream, () => this.#conn.main.sendCommand(args)));
    if (entries.length === 0) this.#phase = 'new';
    else this.#cursor = entries[entries.length - 1]![0];
    return entries;
  }

  async #readNew(n: number): Promise<RawEntry[]> {
    const { group, consumer, block } = this.#o;
    const args = ['XREADGROUP', 'GROUP', group!, consumer, 'COUNT', String(n), 'BLOCK', String(block), 'STREAMS', this.#stream, '>'];
    return entriesOf(await this.#blocked('XREADGROUP', () => this.#conn.block(args, block)));
  }

  /** A blocking read, retried through connection failures; `stop()` cuts it short. */
  async #blocked(name: string, read: () => Promise<unknown>): Promise<unknown> {
    return this.#conn.run(name, this.#stream, async () => {
      if (this.#stopped) return null;
      this.#blocking = true;
      try {
        return await read();
      } finally {
        this.#blocking = false;
      }
    });
  }
}
