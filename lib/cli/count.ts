// --count-by: a Map from key to count, printed most frequent first.

/** An item as one line of output: a string as it is, anything else as JSON. */
export function format(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return String(value);
  // JSON.stringify gives undefined for functions and symbols: print what String() says instead.
  return JSON.stringify(value) ?? String(value);
}

export class Counter {
  // Keys as the expression gave them (200 and "200" are two keys); objects by their JSON text.
  // A mutable box per key: a repeated key then costs one Map lookup, not a get and a set.
  readonly #counts = new Map<unknown, { n: number }>();

  /** Counts one item under `key`; `undefined` and `null` are not counted. */
  add(key: unknown): void {
    if (key === undefined || key === null) return;
    const k = typeof key === 'object' ? JSON.stringify(key) : key;
    const box = this.#counts.get(k);
    if (box === undefined) this.#counts.set(k, { n: 1 });
    else box.n++;
  }

  /**
   * The result as lines: `count key` with the counts right-aligned (as `uniq -c` prints them), or
   * with `json` one `{"key":…,"count":…}` object per line. Most frequent first; ties by key.
   */
  lines(json: boolean, top = Infinity): string[] {
    const entries = [...this.#counts].map(([key, { n }]) => ({ key, count: n, text: format(key) }));
    entries.sort((a, b) => b.count - a.count || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
    const shown = entries.slice(0, top);
    if (json) return shown.map(({ key, count }) => JSON.stringify({ key: typeof key === 'bigint' ? String(key) : key, count }));
    const width = String(shown[0]?.count ?? 0).length;
    return shown.map(({ count, text }) => `${String(count).padStart(width)} ${text}`);
  }
}
