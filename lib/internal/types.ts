import type { Duplex } from 'node:stream';
import type { Many } from './engine.js';

declare const itemTypes: unique symbol;

/**
 * A Node Duplex that also records, for TypeScript only, the item types it takes and gives. Every
 * sluice stage returns one, so `chain()` can infer item types from the first stage to the last.
 */
export interface TypedDuplex<I, O> extends Duplex {
  readonly [itemTypes]?: { in: (value: I) => void; out: O };
}

/** The items a function result stands for: awaited, `many()`/generators unpacked, `undefined` and `null` dropped. */
export type Output<R> = R extends PromiseLike<infer U>
  ? Output<U>
  : R extends Many<infer U>
    ? U
    : R extends Generator<infer U, unknown, never>
      ? U
      : R extends AsyncGenerator<infer U, unknown, never>
        ? U
        : Exclude<R, undefined | null>;

/** What `flatMap` accepts from its function, per item. */
export type Flattenable<T> = Iterable<T> | AsyncIterable<T> | null | undefined;
