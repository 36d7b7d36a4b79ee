// End-to-end acknowledgements: a source that must know when its items are done (a Redis consumer
// group, say) writes a Checkpoint after each batch it reads. Every sluice stage passes a checkpoint
// on only once everything that entered before it has left (passed on, or dropped: filtered, skipped,
// ended by take), as Flink's barriers travel; the end of the pipeline resolves it once every earlier
// write to the last stage was called back. The source then acknowledges the batch, at no cost per item.
// Checkpoints never reach users' functions or foreign streams: pipeline() refuses a stage that does
// not pass them on (see `passesCheckpoints`) and takes them out before a foreign last stage.

/** Set on a stream that passes checkpoints on in order; pipeline() checks it when the source writes them. */
export const passesCheckpoints: unique symbol = Symbol.for('sluice.passesCheckpoints');

/** Set on a stream that writes checkpoints (a source) or resolves them itself (a sink). */
export const usesCheckpoints: unique symbol = Symbol.for('sluice.usesCheckpoints');

/**
 * A marker among the items. `done` runs once, when the checkpoint has been resolved (every copy of
 * it, when a fan-out split it).
 */
export class Checkpoint {
  #left = 1;
  #done: (() => void) | undefined;

  constructor(done: () => void) {
    this.#done = done;
  }

  /**
   * `n` checkpoints for `n` branches of a fan-out (tee, distribute); this one is resolved when all of
   * them are. With `n` = 0, resolved at once.
   */
  fork(n: number): Checkpoint[] {
    this.#left += n - 1;
    const copies = Array.from({ length: n }, () => new Checkpoint(() => this.resolve()));
    if (n === 0) this.resolve();
    return copies;
  }

  /** Everything before it has left the pipeline. */
  resolve(): void {
    if (--this.#left > 0) return;
    const done = this.#done;
    this.#done = undefined;
    done?.();
  }
}

export function isCheckpoint(value: unknown): value is Checkpoint {
  return value instanceof Checkpoint;
}

/** Whether `stage` passes checkpoints on in order (a sluice stage that does declares it). */
export function passesOn(stage: unknown): boolean {
  return (stage as { [passesCheckpoints]?: unknown } | null)?.[passesCheckpoints] === true;
}

/** Whether `stage` writes checkpoints (a source) or resolves them itself (a sink). */
export function handles(stage: unknown): boolean {
  return (stage as { [usesCheckpoints]?: unknown } | null)?.[usesCheckpoints] === true;
}

/**
 * The items of `source` without its checkpoints, for a function that ends a pipeline: a checkpoint is
 * resolved when it is reached, since every item before it has then been taken (and the next asked for).
 */
export async function* withoutCheckpoints(source: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  for await (const item of source) {
    if (item instanceof Checkpoint) item.resolve();
    else yield item;
  }
}

/**
 * A checkpoint through branches whose outputs are merged again (distribute's workers, partition's
 * sub-pipelines): a marker copy goes down every branch, and the original passes on once every copy
 * has come out, so that it stays behind everything written before it, whichever branch that took.
 */
export class Markers {
  readonly #groups = new Map<Checkpoint, { original: Checkpoint; left: number }>();

  /** Writes a marker of `checkpoint` to each branch (even past its highWaterMark: a marker holds no item). */
  send(checkpoint: Checkpoint, branches: readonly { write(item: unknown): unknown }[]): void {
    const group = { original: checkpoint, left: branches.length };
    for (const branch of branches) {
      const marker = new Checkpoint(() => {});
      this.#groups.set(marker, group);
      branch.write(marker);
    }
  }

  /**
   * What an item out of a branch stands for: the item itself, `undefined` for a marker whose group is
   * not all out yet, or the original checkpoint once it is.
   */
  arrived(item: unknown): unknown {
    const group = item instanceof Checkpoint ? this.#groups.get(item) : undefined;
    if (group === undefined) return item;
    this.#groups.delete(item as Checkpoint);
    return --group.left > 0 ? undefined : group.original;
  }
}
