import type { Duplex } from 'node:stream';
import type { Many } from './steps.js';

/** A key that exists for TypeScript only: the item types a stage takes and gives. */
export declare const itemTypes: unique symbol;

/**
 * A Node Duplex that also records, for TypeScript only, the item types it takes and gives. Every
 * sluice stage returns one, so `chain()` can infer item types from the first stage to the last.
 */
export interface TypedDuplex<I, O> extends Duplex {
  readonly [itemTypes]?: { in: (value: I) => void; out: O };
}

/** The items a function result stands for: awaited, `many()`/generators unpacked, `undefined` and `null` dropped. */
export type Output<R> =
  R extends PromiseLike<infer U>
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

/**
 * What to do with an item whose function failed. `'fail'`: the first error destroys the stage (every
 * in-flight call's `signal` aborts) and comes out of `pipeline` unchanged. `'skip'`: drop the item and
 * count it in `skipped`. A function: its return value is passed on instead (`undefined` drops it).
 */
export type OnError<I, O> = 'fail' | 'skip' | ((error: unknown, item: I) => O | undefined);
