import type { Duplex, Readable, Writable } from 'node:stream';
import { closeSettled } from './node-compat.js';

/** Anything with Node's stream interface, including streams from `readable-stream`. */
export type AnyStream = NodeJS.ReadableStream | NodeJS.WritableStream | Duplex;

export function isNodeStream(value: unknown): value is Duplex {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Duplex).on === 'function' &&
    (typeof (value as Duplex).pipe === 'function' || typeof (value as Duplex).write === 'function')
  );
}

/**
 * Marks a stage that may stop taking input before its upstream is exhausted (`take`). Its value is a
 * function telling whether it did. `pipeline` ends the stages before such a stage once it has ended,
 * without treating the resulting premature close as a failure.
 */
export const endsEarly: unique symbol = Symbol('sluice.endsEarly');

export interface EarlyEnder {
  [endsEarly](): boolean;
}

export function canEndEarly(value: unknown): value is EarlyEnder & Duplex {
  return isNodeStream(value) && typeof (value as Partial<EarlyEnder>)[endsEarly] === 'function';
}

/**
 * Whether a destroyed stream has emitted 'close' (or never will): it emits nothing more.
 * `stream.closed` is no use here: Node sets it in destroy(), a tick before 'close' and 'error' are emitted.
 */
export function hasClosed(stream: Readable | Writable): boolean {
  if (!stream.destroyed) return false;
  return closeSettled(stream);
}

/** Resolves once a destroyed stream has emitted 'close' (undefined if it has, or is not destroyed). */
export function closed(stream: Readable | Writable): Promise<void> | undefined {
  if (!stream.destroyed || hasClosed(stream)) return undefined;
  return new Promise((resolve) => stream.once('close', () => resolve()));
}
